// Opens the example's database: embedded SQLite by default
// (./organizations.db), or PostgreSQL / MySQL when DATABASE_URL says so. The
// tables come from the committed migrations, applied through the driver when
// they are missing; with network access, `prisma migrate deploy` does the same.
// With the change feed (docs/custom-models.md#the-change-feed-for-a-custom-model),
// several processes on one database see each other's revocations, and any
// organization's deactivation, within a second.
import { fileURLToPath } from 'node:url'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import Database from 'better-sqlite3'
import * as mariadb from 'mariadb'
import type { ChangeFeedOption } from 'fastify-prisma-api-key'
import pg from 'pg'
import { migrationScripts, type Provider } from '../../prisma/apply.ts'
import { PrismaClient as MysqlClient } from './generated/mysql/client.ts'
import { PrismaClient as PostgresClient } from './generated/postgresql/client.ts'
import { PrismaClient as SqliteClient } from './generated/sqlite/client.ts'

// The three generated clients have the same models and methods; the app is
// written against one of them.
export type OrganizationsClient = SqliteClient

export interface OrganizationsDatabase {
  prisma: OrganizationsClient
  changeFeed: ChangeFeedOption
  label: string
}

const TABLE = 'organization_api_keys'
const migrations = (provider: Provider): string[] =>
  migrationScripts(provider, fileURLToPath(new URL(`./prisma/${provider}/migrations/`, import.meta.url)))

async function openPostgres (url: string): Promise<OrganizationsDatabase> {
  // Prisma's convention: ?schema=name picks the schema (default public).
  const parsed = new URL(url)
  const schema = parsed.searchParams.get('schema') ?? 'public'
  parsed.searchParams.delete('schema')
  const client = new pg.Client({ connectionString: parsed.href })
  await client.connect()
  await client.query(`SET search_path TO "${schema.replace(/"/g, '""')}"`)
  const { rows } = await client.query(`SELECT to_regclass('"${TABLE}"') AS t`)
  if (rows[0].t === null) for (const sql of migrations('postgresql')) await client.query(sql)
  await client.end()
  const prisma = new PostgresClient({ adapter: new PrismaPg({ connectionString: parsed.href }, { schema }) })
  const changeFeed = { listen: () => new pg.Client({ connectionString: parsed.href }) }
  return { prisma: prisma as unknown as OrganizationsClient, changeFeed, label: `PostgreSQL (schema ${schema})` }
}

async function openMysql (url: string): Promise<OrganizationsDatabase> {
  const parsed = new URL(url)
  const config = {
    host: parsed.hostname,
    port: Number(parsed.port || 3306),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1))
  }
  const connection = await mariadb.createConnection({ ...config, multipleStatements: true })
  const [{ n }] = await connection.query('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?', [TABLE])
  if (Number(n) === 0) for (const sql of migrations('mysql')) await connection.query(sql)
  await connection.end()
  const prisma = new MysqlClient({ adapter: new PrismaMariaDb(config) })
  return { prisma: prisma as unknown as OrganizationsClient, changeFeed: { model: prisma.organizationApiKeyChange }, label: `MySQL (database ${config.database})` }
}

export async function openOrganizationsDatabase (url = process.env.DATABASE_URL ?? 'file:./organizations.db'): Promise<OrganizationsDatabase> {
  if (url.startsWith('postgres')) return await openPostgres(url)
  if (url.startsWith('mysql') || url.startsWith('mariadb')) return await openMysql(url)
  const file = url.replace(/^file:/, '')
  const db = new Database(file)
  const exists = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(TABLE)
  if (exists === undefined) for (const sql of migrations('sqlite')) db.exec(sql)
  db.close()
  const prisma = new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: file }) })
  return { prisma, changeFeed: { model: prisma.organizationApiKeyChange }, label: `SQLite (${file})` }
}
