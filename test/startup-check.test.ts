// At startup the plugin reads the key table once: a configuration Prisma
// refuses stops the app with a coded error that says what to fix, instead of
// every request getting 503 "try again later".
import type { Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import t from 'tap'
import apiKeyPlugin, { type ApiKeyPluginOptions } from '../src/index.ts'
import { PrismaClient as OrganizationsClient } from '../examples/organizations/generated/sqlite/client.ts'
import { PrismaClient as MysqlClient } from '../prisma/generated/mysql/client.ts'
import { PrismaClient as PostgresClient } from '../prisma/generated/postgresql/client.ts'
import { auth, FAST_SCRYPT } from './helpers/app.ts'
import { eachDatabase, openDatabase, openMigratedDatabase, type TestDatabase } from './helpers/databases.ts'
import { unknownKey } from './helpers/keys.ts'
import { withMethods } from './helpers/models.ts'

async function start (t: Test, options: Partial<ApiKeyPluginOptions>, server: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(server)
  t.teardown(() => app.close())
  await app.register(apiKeyPlugin, { scrypt: FAST_SCRYPT, hashThreads: 1, ...options } as ApiKeyPluginOptions)
  app.get('/protected', { config: { apiKey: true } }, async () => ({ ok: true }))
  return app
}

const quote = (db: TestDatabase, name: string): string => db.provider === 'mysql' ? `\`${name}\`` : `"${name}"`

function logged (): { server: FastifyServerOptions, lines: () => any[] } {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  return { server: { logger: { level: 'warn', stream } }, lines: () => lines.map((line) => JSON.parse(line)) }
}

eachDatabase(t, async (t, db) => {
  t.test('a good configuration starts', async (t) => {
    // pluginTimeout 0 (no timeout): the check still waits at most 5 s.
    for (const server of [{}, { pluginTimeout: 0 }]) {
      const app = await start(t, { model: db.prisma.apiKey }, server)
      await app.ready()
      t.equal((await app.inject({ url: '/protected', headers: auth(unknownKey()) })).statusCode, 401)
    }
  })

  t.test('an include that names no relation stops the app', async (t) => {
    const app = await start(t, { model: db.prisma.apiKey, include: { organisation: true } })
    await t.rejects(async () => await app.ready(), {
      code: 'FST_API_KEY_INVALID_OPTION',
      message: /^Invalid option include: Unknown field `organisation` for include statement on model `ApiKey`/
    })
  })

  t.test('an include of a column, not a relation, stops the app', async (t) => {
    const app = await start(t, { model: db.prisma.apiKey, include: { name: true } })
    await t.rejects(async () => await app.ready(), { code: 'FST_API_KEY_INVALID_OPTION', message: /^Invalid option include: Invalid scalar field `name`/ })
  })

  t.test('a missing column says to run the migrations', async (t) => {
    // SQLite refuses to drop a column its change feed trigger names.
    if (db.provider === 'sqlite') await db.query('DROP TRIGGER "ApiKey_change_update"')
    await db.query(`ALTER TABLE ${quote(db, 'ApiKey')} DROP COLUMN ${quote(db, 'scopes')}`)
    const app = await start(t, { model: db.prisma.apiKey })
    await t.rejects(async () => await app.ready(), { code: 'FST_API_KEY_NOT_MIGRATED', message: /The column `(main\.)?ApiKey\.scopes` does not exist.*run `prisma migrate deploy`/ })
  })

  t.test('a missing table says to run the migrations', async (t) => {
    // The usage table's foreign key names it: that goes first.
    await db.query(`DROP TABLE ${quote(db, 'ApiKeyUsage')}`)
    await db.query(`DROP TABLE ${quote(db, 'ApiKey')}`)
    const app = await start(t, { model: db.prisma.apiKey })
    await t.rejects(async () => await app.ready(), {
      code: 'FST_API_KEY_NOT_MIGRATED',
      message: /^The database does not have the key model's table or columns \(The table `[\w.]*ApiKey` does not exist in the current database\.\): run `prisma migrate deploy`/
    })
  })
})

t.test('a model that is no key model is an invalid model option', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  // A delegate whose findUnique is not keyed by prefix, as another model's would be.
  const model = withMethods(db.prisma.apiKey, { findUnique: async (args) => await (db.prisma.apiKey as any).findUnique({ ...args, where: { ...args.where, label: 'x' } }) })
  for (const include of [undefined, { organisation: true }]) {
    const app = await start(t, { model, include })
    await t.rejects(async () => await app.ready(), { code: 'FST_API_KEY_INVALID_OPTION', message: /^Invalid option model: Unknown argument `label`/ }, `include: ${JSON.stringify(include)}`)
  }
})

t.test('with a pepper, a model without a keyHmac column stops the app, naming the column', async (t) => {
  const db = await openMigratedDatabase('sqlite', fileURLToPath(new URL('../examples/organizations/prisma/sqlite/migrations/', import.meta.url)))
  const prisma = new OrganizationsClient({ adapter: db.adapter as any })
  t.teardown(async () => { await prisma.$disconnect(); await db.close() })
  const pepper = randomBytes(32)
  const app = await start(t, { model: prisma.organizationApiKey, pepper })
  await t.rejects(async () => await app.ready(), {
    code: 'FST_API_KEY_INVALID_OPTION',
    message: /^Invalid option pepper: the model has no keyHmac column, where the pepper's HMACs are kept: add `keyHmac String\?` to it and migrate/
  })
  const plain = await start(t, { model: prisma.organizationApiKey })
  await plain.ready()
  t.equal((await plain.inject({ url: '/protected', headers: auth(unknownKey()) })).statusCode, 401, 'without a pepper the model is fine')
  const library = await openDatabase('sqlite')
  t.teardown(() => library.close())
  await (await start(t, { model: library.prisma.apiKey, pepper })).ready()
  t.pass('the library\'s model has the column')
})

t.test('with a feature on, a model without its column stops the app, naming the column', async (t) => {
  const db = await openMigratedDatabase('sqlite', fileURLToPath(new URL('../examples/organizations/prisma/sqlite/migrations/', import.meta.url)))
  const prisma = new OrganizationsClient({ adapter: db.adapter as any })
  t.teardown(async () => { await prisma.$disconnect(); await db.close() })
  const features = [
    ['suspension', /^Invalid option suspension: the model has no disabled column: add `disabled Boolean @default\(false\)` to it and migrate/],
    ['ipAllowlist', /^Invalid option ipAllowlist: the model has no allowedIps column: add `allowedIps String\?` to it and migrate/],
    ['credits', /^Invalid option credits: the model lacks a column of the credits feature: add `credits Int\?`, `creditRefill String\?` and `creditsRefilledAt DateTime\?` to it and migrate/],
    ['importedKeys', /^Invalid option importedKeys: the model has no importedFrom column: add `importedFrom String\?` to it and migrate/]
  ] as const
  for (const [option, message] of features) {
    const app = await start(t, { model: prisma.organizationApiKey, [option]: true })
    await t.rejects(async () => await app.ready(), { code: 'FST_API_KEY_INVALID_OPTION', message }, option)
  }
})

// A database that is down at startup is an outage, not a configuration error:
// the app starts (requests answer 503 and recover with the database).
t.test('the database is down at startup: a warning, and the app starts', async (t) => {
  const CLOSED = 1
  const clients = [
    new PostgresClient({ adapter: new PrismaPg({ connectionString: `postgresql://postgres@127.0.0.1:${CLOSED}/test` }) }),
    new MysqlClient({ adapter: new PrismaMariaDb({ host: '127.0.0.1', port: CLOSED, user: 'root', database: 'test', connectTimeout: 500, acquireTimeout: 1000 }) })
  ]
  for (const prisma of clients) {
    t.teardown(() => prisma.$disconnect())
    const { server, lines } = logged()
    const app = await start(t, { model: prisma.apiKey }, server)
    await app.ready()
    t.equal((await app.inject({ url: '/protected', headers: auth(unknownKey()) })).statusCode, 503)
    t.match(lines()[0], { level: 40, msg: /could not read the key table at startup.*requests get 503 until it answers/, err: { code: 'FST_API_KEY_UNAVAILABLE' } })
  }
})

t.test('a database that does not answer does not hold startup past half the plugin timeout', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const model = withMethods(db.prisma.apiKey, { findUnique: async () => await new Promise(() => {}) })
  const { server, lines } = logged()
  const app = await start(t, { model }, { ...server, pluginTimeout: 600 })
  // Past the plugin timeout, ready() would reject with FST_ERR_HOOK_TIMEOUT.
  await app.ready()
  t.match(lines()[0], { level: 40, msg: /the key table did not answer within 300 ms at startup/ })
})
