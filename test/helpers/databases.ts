import type { Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import Database from 'better-sqlite3'
import * as mariadb from 'mariadb'
import pg from 'pg'
import { migrationScripts, type Provider } from '../../prisma/apply.ts'
import { PrismaClient as MysqlClient } from '../../prisma/generated/mysql/client.ts'
import { PrismaClient as PostgresClient } from '../../prisma/generated/postgresql/client.ts'
import { PrismaClient as SqliteClient } from '../../prisma/generated/sqlite/client.ts'

export type Client = SqliteClient | PostgresClient | MysqlClient

// A fresh, migrated database for one test file; each provider isolates by its
// own means (a file, a schema, a database) so test files can run in parallel.
export interface TestDatabase {
  provider: Provider
  /** Where it is, for another process to open it (openLocation). */
  location: Location
  prisma: SqliteClient
  /** Runs raw SQL through the driver, outside Prisma. */
  query (sql: string): Promise<any[]>
  close (): Promise<void>
}

export const PROVIDERS: Provider[] = ['sqlite', 'postgresql', 'mysql']

const ENV: Record<Provider, string | null> = { sqlite: null, postgresql: 'TEST_POSTGRES_URL', mysql: 'TEST_MYSQL_URL' }

/** Why a provider's tests cannot run here, or null when they can. */
export function skipReason (provider: Provider): string | null {
  const name = ENV[provider]
  if (name === null || process.env[name] !== undefined) return null
  return `${name} is not set: ${provider} tests need a server (.ci/run sets it)`
}

const unique = (): string => `t_${process.pid}_${randomBytes(4).toString('hex')}`

// One client type for all three in the tests: the model's methods are the same.
const CLIENTS = { sqlite: SqliteClient, postgresql: PostgresClient, mysql: MysqlClient } as unknown as Record<Provider, typeof SqliteClient>

export async function openDatabase (provider: Provider): Promise<TestDatabase> {
  const db = await openMigratedDatabase(provider, fileURLToPath(new URL(`../../prisma/${provider}/migrations/`, import.meta.url)))
  const prisma = new CLIENTS[provider]({ adapter: db.adapter as any })
  return {
    provider,
    location: db.location,
    prisma,
    query: db.query,
    close: async () => {
      await prisma.$disconnect()
      await db.close()
    }
  }
}

/**
 * Runs `suite` once per provider, as a subtest named after it, on a database
 * opened for it and closed after it. Providers without a server are skipped
 * with the reason printed.
 */
export function eachDatabase (t: Test, suite: (t: Test, db: TestDatabase) => Promise<void>): void {
  for (const provider of PROVIDERS) {
    const skip = skipReason(provider)
    t.test(provider, skip === null ? {} : { skip }, async (t) => {
      const db = await openDatabase(provider)
      t.teardown(() => db.close())
      await suite(t, db)
    })
  }
}

/** A fresh database migrated from another directory (an example app's), for a Prisma client of the caller's own. */
export type Location =
  | { provider: 'sqlite', file: string }
  | { provider: 'postgresql', url: string, schema: string }
  | { provider: 'mysql', url: string, database: string }

/** A Prisma client (of the library's schema) on a database another process made. */
export function openLocation (location: Location): Client {
  if (location.provider === 'sqlite') return new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: location.file }) })
  if (location.provider === 'postgresql') return new PostgresClient({ adapter: new PrismaPg({ connectionString: location.url }, { schema: location.schema }) })
  const url = new URL(location.url)
  return new MysqlClient({
    adapter: new PrismaMariaDb({
      host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), database: location.database, connectionLimit: 5
    })
  })
}

export interface MigratedDatabase {
  provider: Provider
  location: Location
  /** The driver adapter to build the caller's PrismaClient with; disconnect that client before close(). */
  adapter: PrismaBetterSqlite3 | PrismaPg | PrismaMariaDb
  /** Runs raw SQL through the driver, outside Prisma. */
  query (sql: string): Promise<any[]>
  close (): Promise<void>
}

/**
 * Like openDatabase, isolated the same way (a file, a schema, a database), but
 * with the migrations of `migrations` (a directory of <timestamp>_<name>/
 * folders) applied instead of the library's own.
 */
export async function openMigratedDatabase (provider: Provider, migrations: string): Promise<MigratedDatabase> {
  const scripts = migrationScripts(provider, migrations)
  if (provider === 'sqlite') {
    const file = join(tmpdir(), `${unique()}.db`)
    const db = new Database(file)
    for (const sql of scripts) db.exec(sql)
    return {
      provider,
      location: { provider, file },
      adapter: new PrismaBetterSqlite3({ url: file }),
      query: async (sql) => {
        const statement = db.prepare(sql)
        return statement.reader ? statement.all() : [statement.run()]
      },
      close: async () => {
        db.close()
        rmSync(file, { force: true })
      }
    }
  }
  if (provider === 'postgresql') {
    const url = process.env.TEST_POSTGRES_URL as string
    const schema = unique()
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    await admin.query(`CREATE SCHEMA "${schema}"; SET search_path TO "${schema}";`)
    for (const sql of scripts) await admin.query(sql)
    return {
      provider,
      location: { provider, url, schema },
      adapter: new PrismaPg({ connectionString: url }, { schema }),
      query: async (sql) => (await admin.query(sql)).rows,
      close: async () => {
        await admin.query(`DROP SCHEMA "${schema}" CASCADE`)
        await admin.end()
      }
    }
  }
  const database = unique()
  const base = new URL(process.env.TEST_MYSQL_URL as string)
  const config = {
    host: base.hostname,
    port: Number(base.port || 3306),
    user: decodeURIComponent(base.username),
    password: decodeURIComponent(base.password)
  }
  const admin = await mariadb.createConnection({ ...config, multipleStatements: true })
  await admin.query(`CREATE DATABASE \`${database}\``)
  await admin.query(`USE \`${database}\``)
  for (const sql of scripts) await admin.query(sql)
  return {
    provider,
    location: { provider, url: base.href, database },
    adapter: new PrismaMariaDb({ ...config, database, connectionLimit: 5 }),
    query: async (sql) => await admin.query(sql),
    close: async () => {
      await admin.query(`DROP DATABASE \`${database}\``)
      await admin.end()
    }
  }
}

/**
 * Listens on PostgreSQL's change feed channel (TEST_POSTGRES_URL) until the
 * test ends; the function returned gives what was notified since it was last
 * called, of the payloads (prefixes) that start with `tag`.
 */
export async function heardOnFeed (t: Test, tag: string): Promise<() => Promise<string[]>> {
  const listener = new pg.Client({ connectionString: process.env.TEST_POSTGRES_URL })
  await listener.connect()
  t.teardown(() => listener.end())
  const heard: string[] = []
  listener.on('notification', (n) => { if (n.channel === 'api_key_changes' && n.payload?.startsWith(tag) === true) heard.push(n.payload) })
  await listener.query('LISTEN api_key_changes')
  // Notifications arrive after the commit, on another connection: a round trip on it lets them in.
  return async () => { await listener.query('SELECT 1'); return heard.splice(0) }
}
