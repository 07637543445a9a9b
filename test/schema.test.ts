// No Prisma command can compare migration SQL with a schema offline, so this
// test does: after the committed SQL is applied, the live catalog must match
// the model in prisma/<provider>/schema.prisma, column by column.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { eachDatabase, type TestDatabase } from './helpers/databases.ts'

interface Column {
  type: string
  nullable: boolean
  /** the database fills it in when an insert leaves it out */
  dbDefault: boolean
  primary: boolean
  unique: boolean
}

// Enough of the schema language for the model block we ship: one field a line.
function modelColumns (provider: string): Record<string, Column> {
  const schema = readFileSync(new URL(`../prisma/${provider}/schema.prisma`, import.meta.url), 'utf8')
  const block = /model ApiKey \{([^}]*)\}/.exec(schema)?.[1] ?? ''
  const columns: Record<string, Column> = {}
  for (const line of block.split('\n')) {
    const m = /^\s*(\w+)\s+(\w+)(\?)?(.*)$/.exec(line)
    if (m === null) continue
    const [, name, type, optional, attributes] = m
    const fill = /@default\((now\(\)|true|false|\d+|"[^"]*")\)/.test(attributes)
    columns[name] = {
      type,
      nullable: optional === '?',
      dbDefault: fill,
      primary: attributes.includes('@id'),
      unique: attributes.includes('@unique')
    }
  }
  return columns
}

const TYPES: Record<string, Record<string, RegExp>> = {
  sqlite: { String: /^TEXT$/, Boolean: /^BOOLEAN$/, DateTime: /^DATETIME$/ },
  postgresql: { String: /^text$/, Boolean: /^boolean$/, DateTime: /^timestamp\(3\) without time zone$/ },
  mysql: { String: /^varchar\(191\)$/, Boolean: /^tinyint\(1\)$/, DateTime: /^datetime\(3\)$/ }
}

async function catalogColumns (db: TestDatabase): Promise<Record<string, Column & { dbType: string }>> {
  const columns: Record<string, Column & { dbType: string }> = {}
  if (db.provider === 'sqlite') {
    const uniques = new Set<string>()
    for (const index of await db.query('PRAGMA index_list("ApiKey")')) {
      const cols = await db.query(`PRAGMA index_info("${index.name}")`)
      if (index.unique === 1 && index.origin !== 'pk' && cols.length === 1) uniques.add(cols[0].name)
    }
    for (const c of await db.query('PRAGMA table_info("ApiKey")')) {
      columns[c.name] = { dbType: c.type, type: '', nullable: c.notnull === 0, dbDefault: c.dflt_value !== null, primary: c.pk === 1, unique: uniques.has(c.name) }
    }
    return columns
  }
  const pg = db.provider === 'postgresql'
  const schemaFn = pg ? 'current_schema()' : 'DATABASE()'
  const rows = await db.query(`SELECT column_name AS name, is_nullable AS nullable, column_default AS dflt,
      ${pg ? 'format_type(a.atttypid, a.atttypmod)' : 'column_type'} AS dbtype
    FROM information_schema.columns c
    ${pg ? 'JOIN pg_attribute a ON a.attrelid = (\'"\' || c.table_schema || \'"."ApiKey"\')::regclass AND a.attname = c.column_name' : ''}
    WHERE table_schema = ${schemaFn} AND table_name = 'ApiKey'`)
  const indexes: Array<{ name: string, col: string, uniq: unknown, pk: unknown }> = pg
    ? await db.query(`SELECT i.relname AS name, a.attname AS col, x.indisunique AS uniq, x.indisprimary AS pk
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class tb ON tb.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = tb.relnamespace JOIN pg_attribute a ON a.attrelid = tb.oid AND a.attnum = ANY(x.indkey)
        WHERE tb.relname = 'ApiKey' AND n.nspname = current_schema() AND x.indnatts = 1`)
    : await db.query(`SELECT index_name AS name, column_name AS col, non_unique = 0 AS uniq, index_name = 'PRIMARY' AS pk
        FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'ApiKey'`)
  for (const r of rows) {
    const mine = indexes.filter((i) => i.col === r.name)
    columns[r.name] = {
      dbType: String(r.dbtype).toLowerCase(),
      type: '',
      nullable: r.nullable === 'YES',
      // MariaDB reports a nullable column without a default as the text NULL.
      dbDefault: r.dflt !== null && r.dflt !== 'NULL',
      primary: mine.some((i) => Boolean(Number(i.pk))),
      unique: mine.some((i) => Boolean(Number(i.uniq)) && !Number(i.pk))
    }
  }
  return columns
}

eachDatabase(t, async (t, db) => {
  const model = modelColumns(db.provider)
  const catalog = await catalogColumns(db)
  t.same(Object.keys(catalog).sort(), Object.keys(model).sort(), 'the same columns')
  t.ok(Object.keys(model).length >= 8, 'the model was read')
  for (const [name, field] of Object.entries(model)) {
    const column = catalog[name]
    t.match(column.dbType, TYPES[db.provider][field.type], `${name}: ${field.type} as ${column.dbType}`)
    t.equal(column.nullable, field.nullable, `${name}: nullable`)
    t.equal(column.dbDefault, field.dbDefault, `${name}: database default`)
    t.equal(column.primary, field.primary, `${name}: primary key`)
    t.equal(column.unique, field.unique, `${name}: unique index`)
  }
  t.equal(model.prefix.unique, true, 'prefix is unique in the model')
})

t.test('the three schemas declare the same model', async (t) => {
  const sqlite = modelColumns('sqlite')
  t.same(modelColumns('postgresql'), sqlite)
  t.same(modelColumns('mysql'), sqlite)
})
