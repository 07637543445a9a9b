// The organizations example (examples/organizations) on every database: its
// own schema and committed migrations, its generated client, and its app, as
// the example's README runs them; with its change feed, two instances of it.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import t from 'tap'
import { PrismaClient as MysqlClient } from '../examples/organizations/generated/mysql/client.ts'
import { PrismaClient as PostgresClient } from '../examples/organizations/generated/postgresql/client.ts'
import { PrismaClient as SqliteClient } from '../examples/organizations/generated/sqlite/client.ts'
import type { Provider } from '../prisma/apply.ts'
import { catalogColumns, compareColumns, modelColumns } from './helpers/catalog.ts'
import { heardOnFeed, openMigratedDatabase, PROVIDERS, skipReason, type Location, type MigratedDatabase, type TestDatabase } from './helpers/databases.ts'
import { counted } from './helpers/models.ts'

const example = new URL('../examples/organizations/', import.meta.url)
const schemaOf = (provider: string): URL => new URL(`prisma/${provider}/schema.prisma`, example)

// Loaded from a computed URL at run time: a static import would bring the
// example's module augmentation (its scopes and key type, declared on the
// built package) into this program, which is checked against the sources.
const { buildApp } = await import(new URL('app.ts', example).href)
const { openOrganizationsDatabase } = await import(new URL('db.ts', example).href)

const CLIENTS: Record<Provider, new (options: any) => unknown> = { sqlite: SqliteClient, postgresql: PostgresClient, mysql: MysqlClient }
const FAST = { scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1 }
const TTL = 100
// Long enough to be sure it is the feed, far short of the TTL with a feed (60 s).
const FEED_BOUND = 10_000

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
      'previous_hashed_key', 'previous_key_expires_at', 'rate_limit', 'revoked', 'scopes'
    ], 'the columns under their mapped names')
    compareColumns(t, db.provider, keys, await catalogColumns(asCatalog(db), 'organization_api_keys'))
    if (db.provider !== 'postgresql') {
      const log = modelColumns(schema, 'OrganizationApiKeyChange')
      t.same(Object.keys(log).sort(), ['id', 'prefix'], 'the change log')
      compareColumns(t, db.provider, log, await catalogColumns(asCatalog(db), 'organization_api_key_changes'))
    }

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

  t.test('the triggers announce every change to a key or its organization, but last_used_at alone and inserts', async (t) => {
    const tag = `p${randomBytes(4).toString('hex')}`
    const announced = await listenTo(t, db, tag)
    const model = prisma.organizationApiKey
    const umbrella = await prisma.organization.create({ data: { name: 'Umbrella' } })
    const row = async (n: number, organizationId = umbrella.id): Promise<{ id: string }> =>
      await model.create({ data: { prefix: `${tag}${n}`, hashedKey: 'h', name: 'feed', organizationId } })
    const key = await row(1)
    await row(2)
    await row(3, acme.id)
    t.same(await announced(), [], 'an insert is not announced')
    await model.update({ where: { id: key.id }, data: { lastUsedAt: new Date() } })
    // As the library writes it, in batches.
    await model.updateMany({ where: { id: { in: [key.id] } }, data: { lastUsedAt: new Date(Date.now() + 500) } })
    t.same(await announced(), [], 'last_used_at alone is not announced')
    await model.update({ where: { id: key.id }, data: { revoked: true, lastUsedAt: new Date(Date.now() + 1000) } })
    t.same(await announced(), [`${tag}1`], 'a revocation written with last_used_at is')
    for (const data of [{ name: 'renamed' }, { expiresAt: new Date() }, { scopes: 'a' }, { hashedKey: 'h2' }, { previousHashedKey: 'h' }, { previousKeyExpiresAt: new Date() }, { organizationId: globex.id }, { rateLimit: 10 }]) {
      await model.update({ where: { id: key.id }, data })
      t.same(await announced(), [`${tag}1`], `an update of ${Object.keys(data)[0]}`)
    }
    await model.update({ where: { id: key.id }, data: { rateLimit: 20, lastUsedAt: new Date(Date.now() + 2000) } })
    t.same(await announced(), [`${tag}1`], 'the app\'s own column written with last_used_at: the trigger compares it too')
    await model.update({ where: { id: key.id }, data: { prefix: `${tag}4`, organizationId: umbrella.id } })
    t.same((await announced()).sort(), [`${tag}1`, `${tag}4`], 'a new prefix: the old and the new')

    await db.query(`UPDATE ${quote(db, 'Organization')} SET active = false WHERE id = '${umbrella.id}'`)
    t.same((await announced()).sort(), [`${tag}2`, `${tag}4`], 'an organization\'s update in SQL: all its keys, no other')
    await prisma.organization.update({ where: { id: umbrella.id }, data: { name: 'Umbrella Corp' } })
    t.same((await announced()).sort(), [`${tag}2`, `${tag}4`], 'through Prisma too, whatever the column')
    await db.query(`DELETE FROM organization_api_keys WHERE id = '${key.id}'`)
    t.same(await announced(), [`${tag}4`], 'a delete')
    await prisma.organization.delete({ where: { id: umbrella.id } })
    t.same(await announced(), [`${tag}2`], 'deleting an organization: its keys, deleted with it')
  })

  t.test('two instances with the change feed: a change in SQL reaches the other well before the TTL', async (t) => {
    // Each instance opens the database as the example's server does (db.ts), with its own client and feed.
    const instance = async (): Promise<any> => {
      const { prisma, changeFeed } = await openOrganizationsDatabase(urlOf(db.location))
      const app = await buildApp(prisma, { ...FAST, changeFeed })
      t.teardown(async () => {
        await app.close()
        await prisma.$disconnect()
      })
      await app.ready()
      return app
    }
    const [a, b] = [await instance(), await instance()]
    const code = async (key: string): Promise<string> => {
      const res = await b.inject({ url: '/me', headers: header(key) })
      return res.statusCode === 200 ? 'ok' : res.json().code
    }
    // Instance B polls until it gives the answer expected; it has trusted its copy until then.
    const answers = async (key: string, expected: string, how: string): Promise<void> => {
      const started = Date.now()
      while (await code(key) !== expected && Date.now() - started < FEED_BOUND) await sleep(10)
      t.equal(await code(key), expected, `${how}: instance B answers ${expected} after ${Date.now() - started} ms`)
    }
    const wayne = await prisma.organization.create({ data: { name: 'Wayne' } })
    const keys = []
    for (const name of ['wayne 1', 'wayne 2', 'wayne 3', 'wayne 4']) keys.push(await a.apiKeys.create({ name, organizationId: wayne.id }))
    const other = await a.apiKeys.create({ name: 'acme', organizationId: acme.id })
    for (const { key } of [...keys, other]) t.equal(await code(key), 'ok', 'instance B trusts keys instance A made')

    await a.apiKeys.revoke(keys[0].apiKey.id)
    await answers(keys[0].key, 'FST_API_KEY_REVOKED', 'revoked through instance A')
    await db.query(`UPDATE organization_api_keys SET revoked = true WHERE id = '${keys[1].apiKey.id}'`)
    await answers(keys[1].key, 'FST_API_KEY_REVOKED', 'revoked in SQL')

    await db.query(`UPDATE ${quote(db, 'Organization')} SET active = false WHERE id = '${wayne.id}'`)
    await answers(keys[2].key, 'FST_API_KEY_UNUSABLE', 'its organization deactivated in SQL')
    t.equal(await code(keys[3].key), 'FST_API_KEY_UNUSABLE', 'and every other key of it')
    t.equal(await code(other.key), 'ok', 'another organization\'s key still works')
    await db.query(`UPDATE ${quote(db, 'Organization')} SET active = true WHERE id = '${wayne.id}'`)
    await answers(keys[2].key, 'ok', 'reactivated in SQL')
    t.equal(await code(keys[3].key), 'ok', 'and every other key of it')

    await db.query(`DELETE FROM ${quote(db, 'Organization')} WHERE id = '${wayne.id}'`)
    await answers(keys[3].key, 'FST_API_KEY_INVALID', 'its organization deleted in SQL')
    t.equal(await code(keys[2].key), 'FST_API_KEY_INVALID', 'and every other key of it')
    t.equal(await code(other.key), 'ok', 'another organization\'s key still works')
  })
}

const quote = (db: MigratedDatabase, name: string): string => db.provider === 'mysql' ? `\`${name}\`` : `"${name}"`

/** DATABASE_URL for the example's db.ts, on a database the test made. */
function urlOf (location: Location): string {
  if (location.provider === 'sqlite') return `file:${location.file}`
  const url = new URL(location.url)
  if (location.provider === 'postgresql') url.searchParams.set('schema', location.schema)
  else url.pathname = `/${location.database}`
  return url.href
}

/** What the feed has announced since the last call, of the prefixes starting with `tag`. */
async function listenTo (t: Test, db: MigratedDatabase, tag: string): Promise<() => Promise<string[]>> {
  if (db.provider === 'postgresql') return await heardOnFeed(t, tag)
  let seen = 0
  return async () => {
    const rows = await db.query(`SELECT id, prefix FROM organization_api_key_changes WHERE id > ${seen} ORDER BY id`)
    if (rows.length > 0) seen = Number(rows[rows.length - 1].id)
    return rows.map((row) => row.prefix).filter((prefix: string) => prefix.startsWith(tag))
  }
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

t.test('the change log is the same on SQLite and MySQL; PostgreSQL needs none', async (t) => {
  t.same(modelColumns(schemaOf('mysql'), 'OrganizationApiKeyChange'), modelColumns(schemaOf('sqlite'), 'OrganizationApiKeyChange'))
  t.same(modelColumns(schemaOf('postgresql'), 'OrganizationApiKeyChange'), {})
})

t.test('the PostgreSQL migration creates the library\'s notify function word for word', async (t) => {
  const fn = (file: URL): string | undefined => /CREATE FUNCTION "api_key_notify"[\s\S]*?\$\$;/.exec(readFileSync(file, 'utf8'))?.[0]
  const ours = fn(new URL('prisma/postgresql/migrations/20261202000000_change_feed/migration.sql', example))
  t.ok(ours, 'the example creates it')
  t.equal(ours, fn(new URL('../prisma/postgresql/migrations/20261202000000_change_feed/migration.sql', import.meta.url)))
})

t.test('the key model keeps the library\'s fields, under mapped column names', async (t) => {
  const library = modelColumns(new URL('../prisma/sqlite/schema.prisma', import.meta.url), 'ApiKey')
  const mapped = modelColumns(schemaOf('sqlite'), 'OrganizationApiKey')
  const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
  // keyHmac is needed only with the pepper option, the usage-limit columns
  // only with their options (docs/usage.md) and importedFrom only with
  // importedKeys (docs/migrating.md), which the example does not use.
  const { keyHmac, disabled, allowedIps, credits, creditRefill, creditsRefilledAt, importedFrom, ...required } = library
  for (const [name, column] of Object.entries({ keyHmac, disabled, allowedIps, credits, creditRefill, creditsRefilledAt, importedFrom })) {
    t.ok(column, `the library's model has ${name}`)
    t.notOk(snake(name) in mapped, `the example's leaves ${name} out`)
  }
  for (const [name, column] of Object.entries(required)) {
    t.same(mapped[snake(name)], column, `${name} as ${snake(name)}`)
  }
})
