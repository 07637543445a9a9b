// No Prisma command can compare migration SQL with a schema offline, so this
// test does: after the committed SQL is applied, the live catalog must match
// the model in prisma/<provider>/schema.prisma, column by column.
import t from 'tap'
import { catalogColumns, compareColumns, modelColumns } from './helpers/catalog.ts'
import { eachDatabase } from './helpers/databases.ts'

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
