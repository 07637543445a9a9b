// Reads a model block of a Prisma schema and a table of a live database, to
// compare the two (no Prisma command can check migration SQL offline).
import { readFileSync } from 'node:fs'
import type { Test } from 'tap'
import type { TestDatabase } from './databases.ts'

export interface Column {
  type: string
  /** a @db.VarChar(n) or @db.Text attribute, as the database spells it */
  native?: string
  /** @default(autoincrement()): a sequence's default on PostgreSQL, none elsewhere */
  autoincrement?: boolean
  nullable: boolean
  /** the database fills it in when an insert leaves it out */
  dbDefault: boolean
  primary: boolean
  unique: boolean
}

/** Each model of a schema (or of a README), by name: its lines without comments, indentation or alignment. */
export function modelBlocks (schema: string): Record<string, string[]> {
  const found: Record<string, string[]> = {}
  for (const [, name, body] of schema.matchAll(/^model (\w+) \{\n([\s\S]*?)^\}$/gm)) {
    found[name] = body.split('\n').map((line) => line.replace(/\/\/.*/, '').trim().replace(/\s+/g, ' ')).filter((line) => line !== '')
  }
  return found
}

// Enough of the schema language for the model blocks we ship: one field a line;
// relation fields (a model type) are not columns and are left out. A column is
// named as the database knows it: the field's @map("column") if it has one.
export function modelColumns (schemaFile: URL, model: string): Record<string, Column> {
  const block = (modelBlocks(readFileSync(schemaFile, 'utf8'))[model] ?? []).join('\n')
  const columns: Record<string, Column> = {}
  // A composite primary key, @@id([a, b]): each of its columns is part of it.
  const compound = /@@id\(\[([^\]]*)\]\)/.exec(block)?.[1].split(',').map((name) => name.trim()) ?? []
  for (const line of block.split('\n')) {
    const m = /^\s*(\w+)\s+(\w+)(\?)?(.*)$/.exec(line)
    if (m === null) continue
    const [, name, type, optional, attributes] = m
    if (!(type in TYPES.sqlite)) continue
    const native = /@db\.VarChar\((\d+)\)/.exec(attributes)?.[1]
    const text = attributes.includes('@db.Text')
    const fill = /@default\((now\(\)|true|false|\d+|"[^"]*")\)/.test(attributes)
    const column = /@map\("([^"]+)"\)/.exec(attributes)?.[1] ?? name
    columns[column] = {
      type,
      ...(native === undefined ? {} : { native: `varchar(${native})` }),
      ...(text ? { native: 'text' } : {}),
      ...(attributes.includes('@default(autoincrement())') ? { autoincrement: true } : {}),
      nullable: optional === '?',
      dbDefault: fill,
      primary: attributes.includes('@id') || compound.includes(name),
      unique: attributes.includes('@unique')
    }
  }
  return columns
}

export const TYPES: Record<string, Record<string, RegExp>> = {
  sqlite: { String: /^TEXT$/, Boolean: /^BOOLEAN$/, DateTime: /^DATETIME$/, Int: /^INTEGER$/ },
  postgresql: { String: /^text$/, Boolean: /^boolean$/, DateTime: /^timestamp\(3\) without time zone$/, Int: /^integer$/ },
  mysql: { String: /^varchar\(191\)$/, Boolean: /^tinyint\(1\)$/, DateTime: /^datetime\(3\)$/, Int: /^int(\(11\))?$/ }
}

export async function catalogColumns (db: TestDatabase, table: string): Promise<Record<string, Column & { dbType: string }>> {
  const columns: Record<string, Column & { dbType: string }> = {}
  if (db.provider === 'sqlite') {
    const uniques = new Set<string>()
    for (const index of await db.query(`PRAGMA index_list("${table}")`)) {
      const cols = await db.query(`PRAGMA index_info("${index.name}")`)
      if (index.unique === 1 && index.origin !== 'pk' && cols.length === 1) uniques.add(cols[0].name)
    }
    for (const c of await db.query(`PRAGMA table_info("${table}")`)) {
      columns[c.name] = { dbType: c.type, type: '', nullable: c.notnull === 0, dbDefault: c.dflt_value !== null, primary: c.pk > 0, unique: uniques.has(c.name) }
    }
    return columns
  }
  const pg = db.provider === 'postgresql'
  const schemaFn = pg ? 'current_schema()' : 'DATABASE()'
  const rows = await db.query(`SELECT column_name AS name, is_nullable AS nullable, column_default AS dflt,
      ${pg ? 'format_type(a.atttypid, a.atttypmod)' : 'column_type'} AS dbtype
    FROM information_schema.columns c
    ${pg ? `JOIN pg_attribute a ON a.attrelid = ('"' || c.table_schema || '"."${table}"')::regclass AND a.attname = c.column_name` : ''}
    WHERE table_schema = ${schemaFn} AND table_name = '${table}'`)
  const indexes: Array<{ name: string, col: string, uniq: unknown, pk: unknown }> = pg
    ? await db.query(`SELECT i.relname AS name, a.attname AS col, x.indisunique AS uniq, x.indisprimary AS pk
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class tb ON tb.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = tb.relnamespace JOIN pg_attribute a ON a.attrelid = tb.oid AND a.attnum = ANY(x.indkey)
        WHERE tb.relname = '${table}' AND n.nspname = current_schema() AND (x.indnatts = 1 OR x.indisprimary)`)
    : await db.query(`SELECT index_name AS name, column_name AS col, non_unique = 0 AS uniq, index_name = 'PRIMARY' AS pk
        FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '${table}'`)
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

/** Asserts that the live table has exactly the model's columns, with their types and keys. */
export function compareColumns (t: Test, provider: string, model: Record<string, Column>, catalog: Record<string, Column & { dbType: string }>): void {
  t.same(Object.keys(catalog).sort(), Object.keys(model).sort(), 'the same columns')
  for (const [name, field] of Object.entries(model)) {
    const column = catalog[name]
    const type = field.native === undefined || provider !== 'mysql' ? TYPES[provider][field.type] : new RegExp(`^${field.native.replace(/[()]/g, '\\$&')}$`)
    t.match(column.dbType, type, `${name}: ${field.type} as ${column.dbType}`)
    t.equal(column.nullable, field.nullable, `${name}: nullable`)
    t.equal(column.dbDefault, field.dbDefault || (provider === 'postgresql' && field.autoincrement === true), `${name}: database default`)
    t.equal(column.primary, field.primary, `${name}: primary key`)
    t.equal(column.unique, field.unique, `${name}: unique index`)
  }
}
