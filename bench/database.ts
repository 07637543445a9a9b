// The benchmark's databases: a migrated SQLite file, a fresh schema on the
// PostgreSQL server named by BENCH_POSTGRES_URL (or TEST_POSTGRES_URL), or a
// fresh database on the MySQL server named by BENCH_MYSQL_URL (or TEST_MYSQL_URL).
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import Database from 'better-sqlite3'
import * as mariadb from 'mariadb'
import pg from 'pg'
import { migrationScripts } from '../prisma/apply.ts'
import { createApiKeyManager } from '../src/index.ts'
import { PrismaClient as MysqlClient } from '../prisma/generated/mysql/client.ts'
import { PrismaClient as PostgresClient } from '../prisma/generated/postgresql/client.ts'
import { PrismaClient as SqliteClient } from '../prisma/generated/sqlite/client.ts'

export type BenchProvider = 'sqlite' | 'postgresql' | 'mysql'
export type BenchDatabase =
  | { provider: 'sqlite', file: string }
  | { provider: 'postgresql', url: string, schema: string }
  | { provider: 'mysql', url: string, database: string }

export const benchUrl = (provider: 'postgresql' | 'mysql'): string | undefined => provider === 'postgresql'
  ? process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL
  : process.env.BENCH_MYSQL_URL ?? process.env.TEST_MYSQL_URL

function mysqlConfig (url: string): { host: string, port: number, user: string, password: string } {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) }
}

export async function createBenchDatabase (provider: BenchProvider): Promise<BenchDatabase> {
  const name = `bench_${process.pid}_${randomBytes(3).toString('hex')}`
  if (provider === 'sqlite') {
    const file = join(tmpdir(), `${name}.db`)
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    for (const sql of migrationScripts('sqlite')) db.exec(sql)
    db.close()
    return { provider, file }
  }
  if (provider === 'mysql') {
    const url = benchUrl('mysql') as string
    const admin = await mariadb.createConnection({ ...mysqlConfig(url), multipleStatements: true })
    await admin.query(`CREATE DATABASE \`${name}\`; USE \`${name}\`;`)
    for (const sql of migrationScripts('mysql')) await admin.query(sql)
    await admin.end()
    return { provider, url, database: name }
  }
  const url = benchUrl('postgresql') as string
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`CREATE SCHEMA "${name}"; SET search_path TO "${name}";`)
  for (const sql of migrationScripts('postgresql')) await client.query(sql)
  await client.end()
  return { provider, url, schema: name }
}

export async function dropBenchDatabase (db: BenchDatabase): Promise<void> {
  if (db.provider === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(db.file + suffix, { force: true })
    return
  }
  if (db.provider === 'mysql') {
    const admin = await mariadb.createConnection(mysqlConfig(db.url))
    await admin.query(`DROP DATABASE \`${db.database}\``)
    await admin.end()
    return
  }
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  await client.query(`DROP SCHEMA "${db.schema}" CASCADE`)
  await client.end()
}

/** A Prisma client on it; with `onQuery`, called once for every SQL statement Prisma sends. */
export async function openBenchDatabase (db: BenchDatabase, onQuery?: () => void): Promise<{ prisma: SqliteClient, close: () => Promise<void> }> {
  const log = onQuery === undefined ? undefined : [{ emit: 'event' as const, level: 'query' as const }]
  const prisma = (db.provider === 'sqlite'
    ? new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: db.file }), log })
    : db.provider === 'postgresql'
      ? new PostgresClient({ adapter: new PrismaPg({ connectionString: db.url }, { schema: db.schema }), log })
      : new MysqlClient({ adapter: new PrismaMariaDb({ ...mysqlConfig(db.url), database: db.database, connectionLimit: 5 }), log })) as unknown as SqliteClient<'query'>
  if (onQuery !== undefined) prisma.$on('query', onQuery)
  return { prisma, close: async () => await prisma.$disconnect() }
}

/** Runs one SQL statement outside Prisma (as an operator in psql would). */
export async function rawQuery (db: BenchDatabase, sql: string): Promise<void> {
  if (db.provider === 'sqlite') {
    const conn = new Database(db.file)
    conn.exec(sql)
    conn.close()
  } else if (db.provider === 'postgresql') {
    const client = new pg.Client({ connectionString: db.url, options: `-c search_path="${db.schema}"` })
    await client.connect()
    await client.query(sql)
    await client.end()
  } else {
    const conn = await mariadb.createConnection({ ...mysqlConfig(db.url), database: db.database })
    await conn.query(sql)
    await conn.end()
  }
}

/** `count` new keys, made with every core hashing: their ids and plaintexts. */
export async function createKeyRecords (db: BenchDatabase, count: number, scrypt?: { ln: number }): Promise<Array<{ id: string, key: string }>> {
  const { prisma, close } = await openBenchDatabase(db)
  const manager = createApiKeyManager({ model: prisma.apiKey, scrypt, hashThreads: availableParallelism() })
  const made: Array<{ id: string, key: string }> = []
  for (let i = 0; i < count; i += 64) {
    const batch = Array.from({ length: Math.min(64, count - i) }, async (_, j) => await manager.create({ name: `bench ${i + j}` }))
    made.push(...(await Promise.all(batch)).map(({ apiKey, key }) => ({ id: apiKey.id, key })))
  }
  await manager.close()
  await close()
  return made
}

/** Gives a key an IP allowlist and credits (the features row: a key that has both, checked on every request). */
export async function limitKey (db: BenchDatabase, id: string, data: { allowedIps: string, credits: number }): Promise<void> {
  const { prisma, close } = await openBenchDatabase(db)
  await prisma.apiKey.update({ where: { id }, data })
  await close()
}

/** `count` new keys' plaintexts. */
export async function createKeys (db: BenchDatabase, count: number, scrypt?: { ln: number }): Promise<string[]> {
  return (await createKeyRecords(db, count, scrypt)).map(({ key }) => key)
}
