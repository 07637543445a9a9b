import { setTimeout as sleep } from 'node:timers/promises'
// The organizations example (examples/organizations) on every database: its
// own schema and committed migrations, its generated client, and its app, as
// the example's README runs them.
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import t from 'tap'
import { PrismaClient as MysqlClient } from '../examples/organizations/generated/mysql/client.ts'
import { PrismaClient as PostgresClient } from '../examples/organizations/generated/postgresql/client.ts'
import { PrismaClient as SqliteClient } from '../examples/organizations/generated/sqlite/client.ts'
import type { Provider } from '../prisma/apply.ts'
import { catalogColumns, compareColumns, modelColumns } from './helpers/catalog.ts'
import { openMigratedDatabase, PROVIDERS, skipReason, type MigratedDatabase, type TestDatabase } from './helpers/databases.ts'
import { counted } from './helpers/models.ts'

const example = new URL('../examples/organizations/', import.meta.url)
const schemaOf = (provider: string): URL => new URL(`prisma/${provider}/schema.prisma`, example)

// Loaded from a computed URL at run time: a static import would bring the
// example's module augmentation (its scopes and key type, declared on the
// built package) into this program, which is checked against the sources.
const { buildApp } = await import(new URL('app.ts', example).href)

const CLIENTS: Record<Provider, new (options: any) => unknown> = { sqlite: SqliteClient, postgresql: PostgresClient, mysql: MysqlClient }
const FAST = { scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1 }
const TTL = 100

const header = (key: string): Record<string, string> => ({ authorization: `Api-Key ${key}` })

// The catalog helpers only query; the example's database has no library client.
const asCatalog = (db: MigratedDatabase): TestDatabase => db as Pick<TestDatabase, 'provider' | 'query'> as TestDatabase

// Index and foreign-key names as Prisma derives them from the mapped names.
async function constraints (db: MigratedDatabase): Promise<{ indexes: string[], foreignKeys: Array<{ name: string, onDelete: string }> }> {
  if (db.provider === 'sqlite') {
    const indexes = (await db.query('PRAGMA index_list("organization_api_keys")')).map((i) => i.name)
    const foreignKeys = (await db.query('PRAGMA foreign_key_list("organization_api_keys")'))
      .map((f) => ({ name: `${f.from}->${f.table}.${f.to}`, onDelete: f.on_delete }))
    return { indexes, foreignKeys }
  }
  const pg = db.provider === 'postgresql'
  const indexes = (await db.query(pg
    ? "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'organization_api_keys'"
    : "SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'organization_api_keys'"
  )).map((i) => i.name)
  const foreignKeys = (await db.query(pg
    ? `SELECT r.constraint_name AS name, r.delete_rule AS rule, k.column_name AS col, p.table_name AS ref
        FROM information_schema.referential_constraints r
        JOIN information_schema.key_column_usage k ON k.constraint_schema = r.constraint_schema AND k.constraint_name = r.constraint_name
        JOIN information_schema.key_column_usage p ON p.constraint_schema = r.unique_constraint_schema AND p.constraint_name = r.unique_constraint_name
        WHERE r.constraint_schema = current_schema() AND k.table_name = 'organization_api_keys'`
    : `SELECT r.constraint_name AS name, r.delete_rule AS rule, k.column_name AS col, r.referenced_table_name AS ref
        FROM information_schema.referential_constraints r
        JOIN information_schema.key_column_usage k ON k.constraint_schema = r.constraint_schema AND k.constraint_name = r.constraint_name AND k.table_name = r.table_name
        WHERE r.constraint_schema = DATABASE() AND r.table_name = 'organization_api_keys'`
  ))
    .map((f) => ({ name: `${f.name}: ${f.col}->${f.ref}`, onDelete: f.rule }))
  return { indexes, foreignKeys }
}

async function suite (t: Test, db: MigratedDatabase): Promise<void> {
  const prisma = new CLIENTS[db.provider]({ adapter: db.adapter, log: [{ emit: 'event', level: 'query' }] }) as SqliteClient<'query'>
  let statements = 0
  prisma.$on('query', () => { statements++ })
  t.teardown(async () => {
    await prisma.$disconnect()
    await db.close()
  })

  t.test('the committed migrations create what the schema declares', async (t) => {
    const schema = schemaOf(db.provider)
    const organizations = modelColumns(schema, 'Organization')
    t.same(Object.keys(organizations).sort(), ['active', 'id', 'name'])
    compareColumns(t, db.provider, organizations, await catalogColumns(asCatalog(db), 'Organization'))
    const keys = modelColumns(schema, 'OrganizationApiKey')
    t.same(Object.keys(keys).sort(), [
      'created_at', 'expires_at', 'hashed_key', 'id', 'last_used_at', 'name', 'organization_id', 'prefix',
      'previous_hashed_key', 'previous_key_expires_at', 'revoked', 'scopes'
    ], 'the columns under their mapped names')
    compareColumns(t, db.provider, keys, await catalogColumns(asCatalog(db), 'organization_api_keys'))

    const { indexes, foreignKeys } = await constraints(db)
    t.ok(indexes.includes('organization_api_keys_prefix_key'), 'the unique index on prefix')
    t.ok(indexes.includes('organization_api_keys_organization_id_idx'), 'the index on organization_id')
    t.same(foreignKeys, [{
      name: db.provider === 'sqlite' ? 'organization_id->Organization.id' : 'organization_api_keys_organization_id_fkey: organization_id->Organization',
      onDelete: 'CASCADE'
    }], 'organization_id references Organization, deleting in cascade')
  })

  const acme = await prisma.organization.create({ data: { name: 'Acme' } })
  const globex = await prisma.organization.create({ data: { name: 'Globex' } })

  t.test('one query reads a key with its organization; scopes decide 200 or 403', async (t) => {
    const { model, calls } = counted(prisma.organizationApiKey)
    // cacheTtl 0: every check reads the key's row, so each one can be counted.
    const app = await buildApp({ organizationApiKey: model }, { ...FAST, cacheTtl: 0 })
    t.teardown(() => app.close())
    // Started first: the plugin's startup check is a read of its own.
    await app.ready()

    const { apiKey, key } = await app.apiKeys.create({ name: ' acme orders ', organizationId: acme.id, scopes: ['orders:read', 'invoices:read'] })
    t.equal(apiKey.name, 'acme orders')
    t.equal(apiKey.organizationId, acme.id, 'the extra column is written')
    t.same(apiKey.organization, { id: acme.id, name: 'Acme', active: true }, 'create returns the organization')
    t.equal(apiKey.scopes, 'orders:read invoices:read')
    t.notOk('hashedKey' in apiKey || 'previousHashedKey' in apiKey, 'no hash in the record')
    const [row] = await db.query(`SELECT organization_id, scopes FROM organization_api_keys WHERE id = '${apiKey.id}'`)
    t.same({ ...row }, { organization_id: acme.id, scopes: 'orders:read invoices:read' }, 'the row, under its mapped columns')

    const reads = (): number => (calls.findUnique ?? 0) + (calls.findMany ?? 0)
    for (let i = 0; i < 3; i++) {
      const before = reads()
      const sql = statements
      const me = await app.inject({ url: '/me', headers: header(key) })
      t.equal(me.statusCode, 200)
      t.same(me.json(), { key: 'acme orders', organization: 'Acme' }, 'the organization came with the key')
      t.equal(reads() - before, 1, 'one delegate read per check, the relation included')
      if (i === 0) t.comment(`${db.provider}: ${statements - sql} SQL statement(s) for that read`)
    }

    t.equal((await app.inject({ url: '/orders', headers: header(key) })).statusCode, 200)
    const post = await app.inject({ method: 'POST', url: '/orders', headers: header(key) })
    t.equal(post.statusCode, 403)
    t.equal(post.json().code, 'FST_API_KEY_MISSING_SCOPE')
    t.match(post.json().message, /orders:write/, 'the message names the missing scope')

    const writer = await app.apiKeys.create({ name: 'globex all orders', organizationId: globex.id, scopes: ['orders:*'] })
    t.same(writer.apiKey.organization, { id: globex.id, name: 'Globex', active: true })
    const created = await app.inject({ method: 'POST', url: '/orders', headers: header(writer.key) })
    t.equal(created.statusCode, 201, 'orders:* grants orders:write')
    t.same(created.json(), { organization: 'Globex', created: true })

    const invoices = await app.apiKeys.create({ name: 'globex invoices', organizationId: globex.id, scopes: ['invoices:read'] })
    const refused = await app.inject({ url: '/orders', headers: header(invoices.key) })
    t.equal(refused.statusCode, 403)
    t.match(refused.json(), { code: 'FST_API_KEY_MISSING_SCOPE', message: /orders:read/ })

    const everything = await app.apiKeys.create({ name: 'acme admin', organizationId: acme.id, scopes: ['*'] })
    t.equal((await app.inject({ method: 'POST', url: '/orders', headers: header(everything.key) })).statusCode, 201, '* grants every scope')

    await t.rejects(app.apiKeys.create({ name: 'orphan', organizationId: 'no-such-organization' }), 'the foreign key holds')
  })

  t.test('a deactivated organization\'s keys stop working once the cache TTL has passed', async (t) => {
    const app = await buildApp(prisma, { ...FAST, cacheTtl: TTL })
    t.teardown(() => app.close())
    const initech = await prisma.organization.create({ data: { name: 'Initech' } })
    const { key } = await app.apiKeys.create({ name: 'initech', organizationId: initech.id, scopes: ['orders:read'] })
    const other = await app.apiKeys.create({ name: 'acme reader', organizationId: acme.id, scopes: ['orders:read'] })
    t.equal((await app.inject({ url: '/me', headers: header(key) })).statusCode, 200)
    t.equal((await app.inject({ url: '/me', headers: header(other.key) })).statusCode, 200)

    await prisma.organization.update({ where: { id: initech.id }, data: { active: false } })
    await sleep(TTL * 2.5)
    const refused = await app.inject({ url: '/me', headers: header(key) })
    t.equal(refused.statusCode, 401)
    t.equal(refused.json().code, 'FST_API_KEY_UNUSABLE')
    t.equal((await app.inject({ url: '/orders', headers: header(key) })).json().code, 'FST_API_KEY_UNUSABLE', 'on every protected route')
    const still = await app.inject({ url: '/me', headers: header(other.key) })
    t.equal(still.statusCode, 200, 'another organization\'s key still works')
    t.same(still.json(), { key: 'acme reader', organization: 'Acme' })

    await prisma.organization.update({ where: { id: initech.id }, data: { active: true } })
    await sleep(TTL * 2.5)
    t.equal((await app.inject({ url: '/me', headers: header(key) })).statusCode, 200, 'and work again once it is reactivated')
  })

  t.test('deleting an organization deletes its keys', async (t) => {
    const app = await buildApp(prisma, { ...FAST, cacheTtl: TTL })
    t.teardown(() => app.close())
    const hooli = await prisma.organization.create({ data: { name: 'Hooli' } })
    const { apiKey, key } = await app.apiKeys.create({ name: 'hooli', organizationId: hooli.id })
    const other = await app.apiKeys.create({ name: 'acme', organizationId: acme.id })
    t.equal((await app.inject({ url: '/me', headers: header(key) })).statusCode, 200)

    await prisma.organization.delete({ where: { id: hooli.id } })
    t.equal(await prisma.organizationApiKey.count({ where: { organizationId: hooli.id } }), 0, 'the rows went with it')
    t.equal(await app.apiKeys.get(apiKey.id), null)
    await sleep(TTL * 2.5)
    const gone = await app.inject({ url: '/me', headers: header(key) })
    t.equal(gone.statusCode, 401)
    t.equal(gone.json().code, 'FST_API_KEY_INVALID')
    t.equal((await app.inject({ url: '/me', headers: header(other.key) })).statusCode, 200, 'other organizations\' keys are untouched')
  })
}

for (const provider of PROVIDERS) {
  const skip = skipReason(provider)
  t.test(provider, skip === null ? {} : { skip }, async (t) => {
    await suite(t, await openMigratedDatabase(provider, fileURLToPath(new URL(`prisma/${provider}/migrations/`, example))))
  })
}

t.test('the three schemas declare the same models', async (t) => {
  // MySQL's VARCHAR(191) default is too short for a key's scopes.
  const { native, ...mysqlScopes } = modelColumns(schemaOf('mysql'), 'OrganizationApiKey').scopes
  t.equal(native, 'varchar(1000)')
  for (const model of ['Organization', 'OrganizationApiKey']) {
    const sqlite = modelColumns(schemaOf('sqlite'), model)
    t.same(modelColumns(schemaOf('postgresql'), model), sqlite, `${model}: postgresql`)
    const mysql = modelColumns(schemaOf('mysql'), model)
    t.same(model === 'OrganizationApiKey' ? { ...mysql, scopes: mysqlScopes } : mysql, sqlite, `${model}: mysql`)
  }
})

t.test('the key model keeps the library\'s fields, under mapped column names', async (t) => {
  const library = modelColumns(new URL('../prisma/sqlite/schema.prisma', import.meta.url), 'ApiKey')
  const mapped = modelColumns(schemaOf('sqlite'), 'OrganizationApiKey')
  const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
  // keyHmac is needed only with a pepper, which the example does not use.
  const { keyHmac, ...required } = library
  t.ok(keyHmac !== undefined && mapped.key_hmac === undefined, 'the example leaves out the optional keyHmac')
  for (const [name, column] of Object.entries(required)) {
    t.same(mapped[snake(name)], column, `${name} as ${snake(name)}`)
  }
})
