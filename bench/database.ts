// The benchmark's databases: a migrated SQLite file, or a fresh schema on the
// PostgreSQL server named by BENCH_POSTGRES_URL (or TEST_POSTGRES_URL).
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'
import Database from 'better-sqlite3'
import pg from 'pg'
import { migrationScripts } from '../prisma/apply.ts'
import { PrismaClient as PostgresClient } from '../prisma/generated/postgresql/client.ts'
import { PrismaClient as SqliteClient } from '../prisma/generated/sqlite/client.ts'

export type BenchDatabase = { provider: 'sqlite', file: string } | { provider: 'postgresql', url: string, schema: string }

export async function createBenchDatabase (provider: 'sqlite' | 'postgresql'): Promise<BenchDatabase> {
  const name = `bench_${process.pid}_${randomBytes(3).toString('hex')}`
  if (provider === 'sqlite') {
    const file = join(tmpdir(), `${name}.db`)
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    for (const sql of migrationScripts('sqlite')) db.exec(sql)
    db.close()
    return { provider, file }
  }
  const url = (process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL) as string
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
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  await client.query(`DROP SCHEMA "${db.schema}" CASCADE`)
  await client.end()
}

export async function openBenchDatabase (db: BenchDatabase): Promise<{ prisma: SqliteClient, close: () => Promise<void> }> {
  const prisma = db.provider === 'sqlite'
    ? new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: db.file }) })
    : new PostgresClient({ adapter: new PrismaPg({ connectionString: db.url }, { schema: db.schema }) }) as unknown as SqliteClient
  return { prisma, close: async () => await prisma.$disconnect() }
}
