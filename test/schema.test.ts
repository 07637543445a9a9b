// No Prisma command can compare migration SQL with a schema offline, so this
// test does: after the committed SQL is applied, the live catalog must match
// the model in prisma/<provider>/schema.prisma, column by column.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { catalogColumns, compareColumns, modelColumns } from './helpers/catalog.ts'
import { eachDatabase, heardOnFeed } from './helpers/databases.ts'

const schemaOf = (provider: string): URL => new URL(`../prisma/${provider}/schema.prisma`, import.meta.url)

eachDatabase(t, async (t, db) => {
  const model = modelColumns(schemaOf(db.provider), 'ApiKey')
  t.ok(Object.keys(model).length >= 11, 'the model was read')
  compareColumns(t, db.provider, model, await catalogColumns(db, 'ApiKey'))
  t.equal(model.prefix.unique, true, 'prefix is unique in the model')
})

t.test('the three schemas declare the same model', async (t) => {
  // MySQL's VARCHAR(191) default is too short for a key's scopes.
  const { native, ...mysqlScopes } = modelColumns(schemaOf('mysql'), 'ApiKey').scopes
  t.equal(native, 'varchar(1000)')
  const sqlite = modelColumns(schemaOf('sqlite'), 'ApiKey')
  t.same(modelColumns(schemaOf('postgresql'), 'ApiKey'), sqlite)
  t.same({ ...modelColumns(schemaOf('mysql'), 'ApiKey'), scopes: mysqlScopes }, sqlite)
})

eachDatabase(t, async (t, db) => {
  if (db.provider === 'postgresql') return
  t.test('the change log table matches its model', async (t) => {
    compareColumns(t, db.provider, modelColumns(schemaOf(db.provider), 'ApiKeyChange'), await catalogColumns(db, 'ApiKeyChange'))
  })
})

// What the triggers of the change feed announce: every update and delete,
// except an update that changes nothing but lastUsedAt and keyHmac. Not an
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
  await model.update({ where: { id: key.id }, data: { revoked: true, lastUsedAt: new Date(Date.now() + 2000) } })
  t.same(await announced(), [prefix], 'a revocation written with lastUsedAt is')
  for (const data of [{ name: 'renamed' }, { expiresAt: new Date() }, { scopes: 'a' }, { hashedKey: 'h2' }, { previousHashedKey: 'h' }, { previousKeyExpiresAt: new Date() }]) {
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
