import { setTimeout as sleep } from 'node:timers/promises'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin from '../src/index.ts'
import { auth, FAST_SCRYPT } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'
import { wrongSecret } from './helpers/keys.ts'
import { withMethods } from './helpers/models.ts'

t.test('no secret reaches the logs, whatever the outcome', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'trace', stream } })
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
  app.get('/protected', { config: { apiKey: true } }, async (request) => ({ id: request.apiKey?.id }))
  app.get('/forbidden', { config: { apiKey: { authorize: () => false } } }, async () => 'never')
  t.teardown(() => app.close())

  const { key } = await app.apiKeys.create({ name: 'logged' })
  const revoked = await app.apiKeys.create({ name: 'revoked' })
  await app.apiKeys.revoke(revoked.apiKey.id)
  const secrets = [key, revoked.key, wrongSecret(key)]
  const statuses = []
  for (const headers of [auth(key), auth(secrets[2]), auth(revoked.key), { authorization: `Api-Key:${key}` }, auth(key.toLowerCase())]) {
    statuses.push((await app.inject({ url: '/protected', headers })).statusCode)
  }
  statuses.push((await app.inject({ url: '/forbidden', headers: auth(key) })).statusCode)
  t.same(statuses, [200, 401, 401, 401, 401, 403])

  const log = lines.join('')
  t.ok(log.includes('FST_API_KEY_INVALID'), 'failures are logged with their code')
  t.ok(log.includes('"reason":"wrong_secret"'), 'and the reason the response does not give')
  t.ok(lines.length > 10, `${lines.length} log lines captured`)
  for (const secret of secrets) {
    t.notOk(log.includes(secret), 'the key is not in the logs')
    t.notOk(log.includes(secret.slice(9, 41)), 'nor its secret part')
    t.notOk(log.toLowerCase().includes(secret.slice(9, 41).toLowerCase()), 'not even case-folded')
  }
})

t.test('a failed background write is logged as a warning', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const real = db.prisma.apiKey as any
  const model = withMethods(real, { updateMany: async () => { throw new Error('disk full') } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT, hashThreads: 1, lastUsedInterval: 1 })
  app.get('/protected', { config: { apiKey: true } }, async () => 'ok')
  const { key } = await app.apiKeys.create({ name: 'warned' })
  t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200)
  for (let i = 0; i < 50 && lines.length === 0; i++) await sleep(20)
  await app.close()
  t.match(JSON.parse(lines.at(-1) as string), { level: 50, msg: /the last lastUsedAt flush failed/ }, 'close still completes')
  const warning = JSON.parse(lines[0])
  t.equal(warning.level, 40)
  t.match(warning.msg, /a background write failed, it will be retried/)
  t.equal(warning.err.code, 'FST_API_KEY_UNAVAILABLE')
  t.notOk(lines.join('').includes(key.slice(9)), 'no secret in it')
})

t.test('after authentication every log line of the request names the key', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
  app.get('/protected', { config: { apiKey: true } }, async (request) => {
    request.log.info('handling an order')
    return 'ok'
  })
  t.teardown(() => app.close())
  const { key, apiKey } = await app.apiKeys.create({ name: 'logged' })
  t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200)
  t.equal((await app.inject({ url: '/protected', headers: auth(wrongSecret(key)) })).statusCode, 401)
  const entries = lines.map((line) => JSON.parse(line))
  const [first, second] = [...new Set(entries.map((e) => e.reqId))]
  const ofFirst = entries.filter((e) => e.reqId === first)
  t.same(ofFirst.map((e) => e.msg), ['incoming request', 'handling an order', 'request completed'])
  t.notOk('apiKey' in ofFirst[0], 'not before the check')
  t.same(ofFirst[1].apiKey, { id: apiKey.id, prefix: apiKey.prefix }, 'the handler\'s own lines')
  t.same(ofFirst[2].apiKey, { id: apiKey.id, prefix: apiKey.prefix }, 'Fastify\'s request completed')
  t.notOk(entries.filter((e) => e.reqId === second).some((e) => 'apiKey' in e), 'a refused key binds nothing')
})

t.test('Fastify logs no headers by default; apps that do redact the key header', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const prisma = db.prisma
  for (const logsHeaders of [false, true]) {
    const lines: string[] = []
    const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
    const fastify = logsHeaders
      // docs/recipes.md: redact
      ? Fastify({
        logger: {
          stream,
          // This app logs request headers: keep the key out of them.
          serializers: { req: (req) => ({ method: req.method, url: req.url, headers: req.headers }) },
          redact: ['req.headers.authorization', 'req.headers["x-api-key"]']
        }
      })
      // end
      : Fastify({ logger: { level: 'trace', stream } })
    await fastify.register(apiKeyPlugin, { model: prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
    fastify.get('/protected', { config: { apiKey: true } }, async () => 'ok')
    const { key } = await fastify.apiKeys.create({ name: 'headers' })
    t.equal((await fastify.inject({ url: '/protected', headers: { ...auth(key), 'x-trace': 'visible' } })).statusCode, 200)
    await fastify.close()
    const log = lines.join('')
    t.equal(log.includes('visible'), logsHeaders, logsHeaders ? 'headers are logged' : 'no headers are logged')
    t.notOk(log.includes(key.slice(9, 41)), 'the secret is not')
    if (logsHeaders) t.match(log, /"authorization":"\[Redacted\]"/)
  }
})
