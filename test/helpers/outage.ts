import { randomFillSync } from 'node:crypto'
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import type { Provider } from '../../prisma/apply.ts'
import { PrismaClient as MysqlClient } from '../../prisma/generated/mysql/client.ts'
import { PrismaClient as PostgresClient } from '../../prisma/generated/postgresql/client.ts'
import { openDatabase, type Client, type TestDatabase } from './databases.ts'
import { startProxy } from './proxy.ts'

/**
 * A migrated database whose Prisma client (`db.prisma`) can lose its
 * database on demand. `direct` reaches the same data around the fault, to
 * check what was written; on SQLite there is no "around" (the fault is the
 * file itself), so it is only usable after restore().
 */
export interface OutageDatabase {
  db: TestDatabase
  direct: TestDatabase['prisma']
  /** how the database is made to fail, for the test log */
  fault: string
  cut (): void
  /** A cut when the server answers the next query containing `text` (null where no connection can be lost). */
  cutOnAnswerTo: ((text: string) => void) | null
  restore (): void
  close (): Promise<void>
}

function overwrite (file: string, bytes: Buffer): void {
  // In place: the same inode the client has open, so the client sees it.
  const fd = openSync(file, 'r+')
  try {
    writeSync(fd, bytes, 0, bytes.length, 0)
    ftruncateSync(fd, bytes.length)
  } finally {
    closeSync(fd)
  }
}

async function sqliteOutage (): Promise<OutageDatabase> {
  const db = await openDatabase('sqlite')
  const [{ file }] = await db.query('PRAGMA database_list')
  let saved: Buffer | null = null
  return {
    db,
    direct: db.prisma,
    // The tests run as root, so chmod blocks nothing; and better-sqlite3 keeps
    // its file descriptor, so moving, deleting or replacing the path changes
    // nothing for the running client. What it cannot ignore is the content:
    // the file is overwritten in place with random bytes (SQLite then answers
    // SQLITE_NOTADB, "file is not a database") and its saved bytes are written
    // back on restore.
    fault: 'database file overwritten in place with random bytes',
    cut () {
      if (saved !== null) return
      saved = readFileSync(file)
      overwrite(file, randomFillSync(Buffer.alloc(saved.length)))
    },
    restore () {
      if (saved === null) return
      overwrite(file, saved)
      saved = null
    },
    cutOnAnswerTo: null,
    close: async () => await db.close()
  }
}

async function proxiedOutage (provider: 'postgresql' | 'mysql'): Promise<OutageDatabase> {
  // openDatabase creates and migrates the schema (or database) through the
  // direct URL; a second client reaches the same schema through the proxy.
  const db = await openDatabase(provider)
  const url = new URL(process.env[provider === 'postgresql' ? 'TEST_POSTGRES_URL' : 'TEST_MYSQL_URL'] as string)
  const proxy = await startProxy(Number(url.port || (provider === 'postgresql' ? 5432 : 3306)), url.hostname)
  let prisma: Client
  if (provider === 'postgresql') {
    const [{ schema }] = await db.query('SELECT current_schema() AS schema')
    const proxied = new URL(url)
    proxied.hostname = '127.0.0.1'
    proxied.port = String(proxy.port)
    // connectionTimeoutMillis bounds a connection attempt that hangs; the proxy resets instead, so it is a safety net.
    prisma = new PostgresClient({ adapter: new PrismaPg({ connectionString: proxied.toString(), connectionTimeoutMillis: 2000 }, { schema }) })
  } else {
    const [{ name }] = await db.query('SELECT DATABASE() AS name')
    // The pool keeps retrying a refused connection until acquireTimeout; a
    // short one makes an outage a 503 within a second, not after ten.
    prisma = new MysqlClient({
      adapter: new PrismaMariaDb({
        host: '127.0.0.1',
        port: proxy.port,
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: name,
        connectionLimit: 5,
        connectTimeout: 500,
        acquireTimeout: 1000
      })
    })
  }
  return {
    db: { ...db, prisma: prisma as TestDatabase['prisma'] },
    direct: db.prisma,
    fault: 'TCP proxy resets every connection',
    cut: () => proxy.cut(),
    cutOnAnswerTo: (text) => proxy.cutOnAnswerTo(text),
    restore: () => proxy.restore(),
    close: async () => {
      proxy.restore()
      await prisma.$disconnect()
      await proxy.close()
      await db.close()
    }
  }
}

export async function openOutageDatabase (provider: Provider): Promise<OutageDatabase> {
  return provider === 'sqlite' ? await sqliteOutage() : await proxiedOutage(provider)
}
