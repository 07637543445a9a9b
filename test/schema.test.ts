// No Prisma command can compare migration SQL with a schema offline, so this
// test does: after the committed SQL is applied, the live catalog must match
// the model in prisma/<provider>/schema.prisma, column by column.
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { catalogColumns, compareColumns, modelBlocks, modelColumns } from './helpers/catalog.ts'
import { eachDatabase, heardOnFeed } from './helpers/databases.ts'

const schemaOf = (provider: string): URL => new URL(`../prisma/${provider}/schema.prisma`, import.meta.url)

eachDatabase(t, async (t, db) => {
  const model = modelColumns(schemaOf(db.provider), 'ApiKey')
  t.ok(Object.keys(model).length >= 11, 'the model was read')
  compareColumns(t, db.provider, model, await catalogColumns(db, 'ApiKey'))
  t.equal(model.prefix.unique, true, 'prefix is unique in the model')
  // Imported keys (docs/migrating.md): where the key came from, null for the library's own.
  t.same(model.importedFrom, { type: 'String', nullable: true, dbDefault: false, primary: false, unique: false })
})

t.test('the three schemas declare the same model', async (t) => {
  // MySQL's VARCHAR(191) default is too short for a key's scopes and address list.
  const mysql = modelColumns(schemaOf('mysql'), 'ApiKey')
  for (const long of ['scopes', 'allowedIps']) {
    const { native, ...rest } = mysql[long]
    t.equal(native, 'varchar(1000)', long)
    mysql[long] = rest
  }
  const sqlite = modelColumns(schemaOf('sqlite'), 'ApiKey')
  t.same(modelColumns(schemaOf('postgresql'), 'ApiKey'), sqlite)
  t.same(mysql, sqlite)
  t.same(modelColumns(schemaOf('postgresql'), 'ApiKeyUsage'), modelColumns(schemaOf('sqlite'), 'ApiKeyUsage'))
  t.same(modelColumns(schemaOf('mysql'), 'ApiKeyUsage'), modelColumns(schemaOf('sqlite'), 'ApiKeyUsage'))
  t.same(modelColumns(schemaOf('postgresql'), 'ApiKeyEvent'), modelColumns(schemaOf('sqlite'), 'ApiKeyEvent'))
})

t.test('the README\'s models are the shipped schema\'s', async (t) => {
  // A user pastes these and copies the shipped migrations: a model the
  // migrations create but the README leaves out (or a column) is one that
  // the next `prisma migrate dev` would write a migration to drop.
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const shown = modelBlocks(readme)
  t.same(shown, modelBlocks(readFileSync(schemaOf('sqlite'), 'utf8')), 'sqlite')
  // PostgreSQL's feed needs no table; MySQL's wider columns are the README's note.
  const { ApiKeyChange, ...postgresql } = shown
  t.ok(ApiKeyChange, 'the change log is shown')
  t.same(modelBlocks(readFileSync(schemaOf('postgresql'), 'utf8')), postgresql, 'postgresql')
  const mysql = modelBlocks(readFileSync(schemaOf('mysql'), 'utf8').replace(/ @db\.(VarChar\(1000\)|Text)/g, ''))
  t.same(mysql, shown, 'mysql, its native types aside')
  t.ok(readme.replace(/\s+/g, ' ').includes('(On MySQL, give `scopes` and `allowedIps` room: `@db.VarChar(1000)`, and `ApiKeyEvent`\'s `changes` and `details` `@db.Text`.)'), 'the README says so')
  // The README's sentence on apps with migrations of their own names each
  // shipped migration that creates triggers.
  const migrations = new URL('../prisma/sqlite/migrations/', import.meta.url)
  for (const name of readdirSync(migrations)) {
    if (name.endsWith('.toml')) continue
    const sql = readFileSync(new URL(`${name}/migration.sql`, migrations), 'utf8')
    if (sql.includes('CREATE TRIGGER')) t.ok(readme.includes(`\`${name}\``), `the README names ${name}`)
  }
})

eachDatabase(t, async (t, db) => {
  t.test('the usage table matches its model', async (t) => {
    const model = modelColumns(schemaOf(db.provider), 'ApiKeyUsage')
    t.same(Object.keys(model).sort(), ['count', 'keyId', 'periodStart'])
    compareColumns(t, db.provider, model, await catalogColumns(db, 'ApiKeyUsage'))
  })
  t.test('the audit table matches its model, and outlives the keys it tells of', async (t) => {
    const model = modelColumns(schemaOf(db.provider), 'ApiKeyEvent')
    t.same(Object.keys(model).sort(), ['actor', 'changes', 'createdAt', 'details', 'id', 'keyId', 'prefix', 'type'])
    compareColumns(t, db.provider, model, await catalogColumns(db, 'ApiKeyEvent'))
    const key = await db.prisma.apiKey.create({ data: { prefix: `e${randomBytes(4).toString('hex')}`, hashedKey: 'h', name: 'events' } })
    // Longer than MySQL's VARCHAR(191): the JSON columns are TEXT there.
    const details = JSON.stringify({ url: `https://github.com/${'x'.repeat(1000)}` })
    const event = await db.prisma.apiKeyEvent.create({ data: { keyId: key.id, prefix: key.prefix, type: 'created', details } })
    t.equal(event.details, details)
    await db.prisma.apiKey.delete({ where: { id: key.id } })
    t.equal(await db.prisma.apiKeyEvent.count({ where: { keyId: key.id } }), 1, 'kept after the key is gone')
  })
  t.test('usage rows are one per key and period, and go with their key', async (t) => {
    const key = await db.prisma.apiKey.create({ data: { prefix: `u${randomBytes(4).toString('hex')}`, hashedKey: 'h', name: 'usage' } })
    const periodStart = new Date('2026-12-01T00:00:00Z')
    await db.prisma.apiKeyUsage.create({ data: { keyId: key.id, periodStart, count: 3 } })
    await t.rejects(db.prisma.apiKeyUsage.create({ data: { keyId: key.id, periodStart } }), { code: 'P2002' })
    if (db.provider === 'sqlite') await db.query('PRAGMA foreign_keys = ON')
    await db.prisma.apiKey.delete({ where: { id: key.id } })
    t.equal(await db.prisma.apiKeyUsage.count({ where: { keyId: key.id } }), 0, 'deleted with the key')
  })
})

eachDatabase(t, async (t, db) => {
  if (db.provider === 'postgresql') return
  t.test('the change log table matches its model', async (t) => {
    compareColumns(t, db.provider, modelColumns(schemaOf(db.provider), 'ApiKeyChange'), await catalogColumns(db, 'ApiKeyChange'))
  })
})

// What the triggers of the change feed announce: every update and delete,
// except an update that changes nothing but lastUsedAt, keyHmac, credits and
// creditsRefilledAt (bookkeeping), unless credits goes from or to null. Not an
// insert: no instance holds a copy of a row that did not exist.
eachDatabase(t, async (t, db) => {
  const prefix = `p${randomBytes(4).toString('hex')}`
  let announced: () => Promise<string[]>
  if (db.provider === 'postgresql') {
    announced = await heardOnFeed(t, prefix)
  } else {
    let seen = 0
    announced = async () => {
      const rows = await db.prisma.apiKeyChange.findMany({ where: { id: { gt: seen } }, orderBy: { id: 'asc' } })
      if (rows.length > 0) seen = rows[rows.length - 1].id
      return rows.map((row) => row.prefix)
    }
    t.same(await announced(), [], 'the log starts empty')
  }
  const model = db.prisma.apiKey
  const key = await model.create({ data: { prefix, hashedKey: 'h', name: 'feed' } })
  t.same(await announced(), [], 'an insert is not announced')
  await model.update({ where: { id: key.id }, data: { lastUsedAt: new Date() } })
  await model.update({ where: { id: key.id }, data: { keyHmac: 'x' } })
  await model.update({ where: { id: key.id }, data: { lastUsedAt: new Date(Date.now() + 1000), keyHmac: 'y' } })
  t.same(await announced(), [], 'lastUsedAt and keyHmac alone are not announced')
  // Instances decide from their cached row whether a key is limited at all:
  // a limit given or taken away is announced; a reservation or a refill is not.
  await model.update({ where: { id: key.id }, data: { credits: 10 } })
  t.same(await announced(), [prefix], 'a limit given to an unlimited key is announced')
  await model.update({ where: { id: key.id }, data: { credits: 9, creditsRefilledAt: new Date() } })
  await model.update({ where: { id: key.id }, data: { credits: { decrement: 9 } } })
  t.same(await announced(), [], 'credits and creditsRefilledAt alone are not')
  await model.update({ where: { id: key.id }, data: { credits: null } })
  t.same(await announced(), [prefix], 'a limit taken away is announced')
  await model.update({ where: { id: key.id }, data: { credits: 10 } })
  t.same(await announced(), [prefix])
  await model.update({ where: { id: key.id }, data: { revoked: true, lastUsedAt: new Date(Date.now() + 2000) } })
  t.same(await announced(), [prefix], 'a revocation written with lastUsedAt is')
  for (const data of [{ name: 'renamed' }, { expiresAt: new Date() }, { scopes: 'a' }, { hashedKey: 'h2' }, { previousHashedKey: 'h' }, { previousKeyExpiresAt: new Date() },
    { disabled: true }, { allowedIps: '10.0.0.0/8' }, { creditRefill: 'day:100' }, { credits: 5, disabled: false }, { importedFrom: 'sha256' }]) {
    await model.update({ where: { id: key.id }, data })
    t.same(await announced(), [prefix], `an update of ${Object.keys(data)[0]}`)
  }
  await model.update({ where: { id: key.id }, data: { prefix: `${prefix}2` } })
  t.same((await announced()).sort(), [prefix, `${prefix}2`], 'a new prefix: the old and the new')
  await db.query(db.provider === 'mysql' ? 'UPDATE `ApiKey` SET `name` = \'sql\'' : 'UPDATE "ApiKey" SET "name" = \'sql\'')
  t.same(await announced(), [`${prefix}2`], 'an update in SQL')
  await model.delete({ where: { id: key.id } })
  t.same(await announced(), [`${prefix}2`], 'a delete')
})
