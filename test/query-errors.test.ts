// A query Prisma refuses before running it (an unknown column, a wrong type)
// prints its arguments in the message, the new key's hash among them: the
// library passes on the reason only, whatever the error handler does with it.
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin from '../src/index.ts'
import { FAST_SCRYPT, testManager } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'

eachDatabase(t, async (t, db) => {
  t.test('create with a column the model lacks: a coded error with Prisma\'s reason, no hash', async (t) => {
    const m = testManager(db.prisma.apiKey)
    t.teardown(() => m.close())
    const err = await m.create({ name: 'typo', organisationId: 'org_1' }).then(() => null, (e: Error & { code?: string }) => e)
    t.ok(err !== null, 'refused')
    t.equal(err?.code, 'FST_API_KEY_QUERY_REFUSED')
    t.match(err?.message, /Unknown argument `organisationId`/, 'the reason is kept')
    t.notMatch(err?.message, /\$scrypt\$/, 'no hash in the message')
    t.notMatch(JSON.stringify(err, Object.getOwnPropertyNames(err)), /\$scrypt\$/, 'nor anywhere on the error')
    t.equal((await m.list()).total, 0, 'nothing written')
  })

  t.test('through the default error handler, the 500 carries no hash', async (t) => {
    const app = Fastify()
    await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
    app.post('/keys', async () => await app.apiKeys.create({ name: 'typo', organisationId: 'org_1' }))
    t.teardown(() => app.close())
    const res = await app.inject({ method: 'POST', url: '/keys' })
    t.equal(res.statusCode, 500)
    t.equal(res.json().code, 'FST_API_KEY_QUERY_REFUSED')
    t.notMatch(res.body, /\$scrypt\$/)
  })
})
