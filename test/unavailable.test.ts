import type { Test } from 'tap'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin, { type ApiKeyDelegate } from '../src/index.ts'
import { PrismaClient as MysqlClient } from '../prisma/generated/mysql/client.ts'
import { PrismaClient as PostgresClient } from '../prisma/generated/postgresql/client.ts'
import { auth, FAST_SCRYPT, testManager } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'
import { unknownKey } from './helpers/keys.ts'
import { withMethods } from './helpers/models.ts'

// A port nothing listens on: every connection is refused at once.
const CLOSED = 1

async function check (t: Test, model: ApiKeyDelegate, started?: () => Promise<unknown>): Promise<void> {
  const app = Fastify()
  await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT, hashThreads: 1 })
  app.get('/protected', { config: { apiKey: true } }, async () => ({ ok: true }))
  app.get('/optional', { config: { apiKey: { optional: true } } }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  await app.ready()
  await started?.()
  for (const url of ['/protected', '/optional']) {
    const res = await app.inject({ url, headers: auth(unknownKey()) })
    t.equal(res.statusCode, 503, url)
    t.equal(res.json().code, 'FST_API_KEY_UNAVAILABLE', url)
  }
  t.equal((await app.inject({ url: '/protected', headers: auth('malformed') })).statusCode, 401, 'a malformed key needs no database')
  t.equal((await app.inject({ url: '/protected' })).statusCode, 401, 'no key needs no database')
  await t.rejects(app.apiKeys.create({ name: 'during outage' }), { code: 'FST_API_KEY_UNAVAILABLE', statusCode: 503 })
  await t.rejects(app.apiKeys.list(), { code: 'FST_API_KEY_UNAVAILABLE' })
  await t.rejects(app.apiKeys.get('some-id'), { code: 'FST_API_KEY_UNAVAILABLE' })
  await t.rejects(app.apiKeys.revoke('some-id'), { code: 'FST_API_KEY_UNAVAILABLE' })
  await t.rejects(app.apiKeys.rotate('some-id'), { code: 'FST_API_KEY_UNAVAILABLE' })
}

// Gone at startup, it stops the app (test/startup-check.test.ts); gone later,
// it is an outage like any other.
t.test('sqlite: the key table is gone after startup', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  await check(t, db.prisma.apiKey, async () => await db.query('DROP TABLE "ApiKey"'))
})

t.test('postgresql: the server refuses connections', async (t) => {
  const prisma = new PostgresClient({ adapter: new PrismaPg({ connectionString: `postgresql://postgres@127.0.0.1:${CLOSED}/test` }) })
  t.teardown(() => prisma.$disconnect())
  await check(t, prisma.apiKey)
})

t.test('mysql: the server refuses connections', async (t) => {
  const prisma = new MysqlClient({ adapter: new PrismaMariaDb({ host: '127.0.0.1', port: CLOSED, user: 'root', database: 'test', connectTimeout: 500, acquireTimeout: 1000 }) })
  t.teardown(() => prisma.$disconnect())
  await check(t, prisma.apiKey)
})

t.test('a rotation whose write fails is a 503, and the old secret still works', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const model = withMethods(db.prisma.apiKey as any, { updateMany: async () => { throw new Error('connection reset') } })
  const app = Fastify()
  await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT, hashThreads: 1, lastUsedInterval: 0 })
  app.get('/protected', { config: { apiKey: true } }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  const { apiKey, key } = await app.apiKeys.create({ name: 'rotated during an outage' })
  await t.rejects(app.apiKeys.rotate(apiKey.id, { gracePeriod: 1000 }), { code: 'FST_API_KEY_UNAVAILABLE', statusCode: 503 })
  t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200)
})

t.test('a delegate that throws something that is not an error (null) is an outage too, never a crash', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const model = withMethods(db.prisma.apiKey, { findMany: async () => { throw null } }) // eslint-disable-line no-throw-literal
  const m = testManager(model)
  t.teardown(() => m.close())
  await t.rejects(m.list(), { code: 'FST_API_KEY_UNAVAILABLE' })
})

t.test('an error Prisma reports about the query itself (a known request error) reaches the caller as it is, not as a 503', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const refused = Object.assign(new Error('Foreign key constraint failed'), { name: 'PrismaClientKnownRequestError', code: 'P2003' })
  const model = withMethods(db.prisma.apiKey, { findMany: async () => { throw refused } })
  const m = testManager(model)
  t.teardown(() => m.close())
  await t.rejects(m.list(), refused)
})
