// Opens the demo's database: embedded SQLite by default (./demo.db), or
// PostgreSQL when DATABASE_URL says so. The schema comes from the committed
// migrations; with network access you would run `prisma migrate deploy` instead.
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'
import Database from 'better-sqlite3'
import pg from 'pg'
import { migrationScripts } from '../../prisma/apply.ts'
import { PrismaClient as PostgresClient } from '../../prisma/generated/postgresql/client.ts'
import { PrismaClient as SqliteClient } from '../../prisma/generated/sqlite/client.ts'
import type { ChangeFeedOption } from 'fastify-prisma-api-key'

export type DemoClient = SqliteClient | PostgresClient

// The change feed too (docs/change-feed.md): several demo processes on one
// database see each other's revocations within a second.
export async function openDemoDatabase (url = process.env.DATABASE_URL ?? 'file:./demo.db'): Promise<{ prisma: DemoClient, changeFeed: ChangeFeedOption, label: string }> {
  if (url.startsWith('postgres')) {
    // Prisma's convention: ?schema=name picks the schema (default public).
    const parsed = new URL(url)
    const schema = parsed.searchParams.get('schema') ?? 'public'
    parsed.searchParams.delete('schema')
    const client = new pg.Client({ connectionString: parsed.href })
    await client.connect()
    await client.query(`SET search_path TO "${schema.replace(/"/g, '""')}"`)
    const { rows } = await client.query("SELECT to_regclass('\"ApiKey\"') AS t")
    if (rows[0].t === null) for (const sql of migrationScripts('postgresql')) await client.query(sql)
    await client.end()
    const adapter = new PrismaPg({ connectionString: parsed.href }, { schema })
    const changeFeed = { listen: () => new pg.Client({ connectionString: parsed.href }) }
    return { prisma: new PostgresClient({ adapter }), changeFeed, label: `PostgreSQL (schema ${schema})` }
  }
  const file = url.replace(/^file:/, '')
  const db = new Database(file)
  const exists = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'ApiKey'").get()
  if (exists === undefined) for (const sql of migrationScripts('sqlite')) db.exec(sql)
  db.close()
  const prisma = new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: file }) })
  return { prisma, changeFeed: { model: prisma.apiKeyChange }, label: `SQLite (${file})` }
}
