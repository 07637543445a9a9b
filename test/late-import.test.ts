// An app created before the library is loaded (a dynamic import, as
// @fastify/autoload loads plugin files): the library did not see it being
// created, so it cannot check the routes its registration does not reach, and
// says so. No static import of the library (nor of a helper that imports it) here.
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import { openDatabase } from './helpers/databases.ts'

const lines: string[] = []
const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
const app = Fastify({ logger: { level: 'warn', stream } })
const { default: apiKeyPlugin } = await import('../src/index.ts')

t.test('a warning at registration; the routes it reaches are still protected', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  t.teardown(() => app.close())
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1 })
  app.get('/reached', { config: { apiKey: true } }, async () => 'served')
  await app.ready()
  t.equal((await app.inject('/reached')).statusCode, 401)
  const [warning] = lines.map((line) => JSON.parse(line))
  t.match(warning, {
    level: 40,
    msg: /^fastify-prisma-api-key was loaded after this Fastify instance was created: only routes added after the registration, in its scope, are checked; import fastify-prisma-api-key before calling Fastify\(\)/
  })
  const later = Fastify()
  t.teardown(() => later.close())
  later.get('/x', { config: { apiKey: true } }, async () => 'served')
  await t.rejects(async () => await later.ready(), { code: 'FST_API_KEY_UNPROTECTED_ROUTE' }, 'an app created after the import is checked')
})
