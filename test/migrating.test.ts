// docs/migrating.md, from end to end on each database: a Django project's
// drf-api-key table with real hashes (made by the schemes' definitions), the
// guide's own export command run by the database's own client, the built
// CLI's import (twice: the second skips everything), then the keys through
// HTTP with the guide's registration. Every shell block of the guide runs
// here, word for word; its ts blocks are below, word for word (test/docs.test.ts).
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import * as mariadb from 'mariadb'
import pg from 'pg'
import type { Test } from 'tap'
import t from 'tap'
import apiKeyPlugin, { createApiKeyManager } from '../src/index.ts'
import { cli, CLI, databaseEnv } from './helpers/cli.ts'
import { eachDatabase, openDatabase, PROVIDERS, skipReason, type TestDatabase } from './helpers/databases.ts'
import { djangoPbkdf2, drfKey, drfSha512 } from './helpers/legacy.ts'

const ROOT = new URL('..', import.meta.url).pathname
const CONFIG = join(ROOT, 'test/fixtures/import-config.ts')
const guide = readFileSync(join(ROOT, 'docs/migrating.md'), 'utf8')
const SHELL = [...guide.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1].trim())
const ran = new Set<string>()

// Django's tables (the 0005 migration's), as `manage.py migrate` makes them on each database.
const DDL = {
  postgresql: `CREATE TABLE rest_framework_api_key_apikey (id varchar(150) NOT NULL PRIMARY KEY, created timestamp with time zone NOT NULL,
    name varchar(50) NOT NULL, revoked boolean NOT NULL, expiry_date timestamp with time zone NULL, hashed_key varchar(150) NOT NULL, prefix varchar(8) NOT NULL UNIQUE)`,
  mysql: `CREATE TABLE rest_framework_api_key_apikey (id varchar(150) NOT NULL PRIMARY KEY, created datetime(6) NOT NULL, name varchar(50) NOT NULL,
    revoked bool NOT NULL, expiry_date datetime(6) NULL, hashed_key varchar(150) NOT NULL, prefix varchar(8) NOT NULL UNIQUE)`,
  sqlite: `CREATE TABLE "rest_framework_api_key_apikey" ("id" varchar(150) NOT NULL PRIMARY KEY, "created" datetime NOT NULL, "name" varchar(50) NOT NULL,
    "revoked" bool NOT NULL, "expiry_date" datetime NULL, "hashed_key" varchar(150) NOT NULL, "prefix" varchar(8) NOT NULL UNIQUE)`
}

interface DrfRow { prefix: string, key: string, hashed_key: string, name: string, revoked: boolean, expiry_date: Date | null, created: Date }

// Keys as drf-api-key made them over the years: SHA-512 (3.0 on), PBKDF2 (before), revoked, expired.
function drfRows (): DrfRow[] {
  const row = (name: string, hash: (key: string) => string, revoked = false, expiry: Date | null = null): DrfRow => {
    const { prefix, key } = drfKey()
    return { prefix, key, hashed_key: hash(key), name, revoked, expiry_date: expiry, created: new Date('2023-06-01T08:30:15.123Z') }
  }
  return [
    row('billing, "prod"', drfSha512),
    row('legacy', (key) => djangoPbkdf2(key, randomBytes(9).toString('base64url'), 3000)),
    row('gone', drfSha512, true),
    row('old', drfSha512, false, new Date('2025-01-01T00:00:00Z'))
  ]
}

/** A drf-api-key table in a database of its own (Django's), and what its client needs to reach it. */
async function djangoDatabase (t: Test, db: TestDatabase, cwd: string, rows: DrfRow[]): Promise<Record<string, string>> {
  const values = rows.map((r) => [`${r.prefix}.${r.hashed_key}`, r.created, r.name, r.revoked, r.expiry_date, r.hashed_key, r.prefix])
  const insert = 'INSERT INTO rest_framework_api_key_apikey (id, created, name, revoked, expiry_date, hashed_key, prefix) VALUES '
  const name = `drf_${process.pid}_${randomBytes(4).toString('hex')}`
  if (db.provider === 'sqlite') {
    const django = new Database(join(cwd, 'db.sqlite3'))
    django.exec(DDL.sqlite)
    // Django's SQLite backend: times as UTC text with microseconds, booleans as 1 and 0.
    const text = (date: Date | null): string | null => date === null ? null : date.toISOString().replace('T', ' ').replace('Z', '000')
    for (const v of values) django.prepare(`${insert}(?, ?, ?, ?, ?, ?, ?)`).run(v[0], text(v[1] as Date), v[2], v[3] === true ? 1 : 0, text(v[4] as Date | null), v[5], v[6])
    django.close()
    return {}
  }
  if (db.provider === 'postgresql') {
    const url = process.env.TEST_POSTGRES_URL as string
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    await admin.query(`CREATE SCHEMA "${name}"; SET search_path TO "${name}"; ${DDL.postgresql}`)
    for (const v of values) await admin.query(`${insert}($1, $2, $3, $4, $5, $6, $7)`, v)
    t.teardown(async () => { await admin.query(`DROP SCHEMA "${name}" CASCADE`); await admin.end() })
    return { DATABASE_URL: `${url}?options=-csearch_path%3D${name}` }
  }
  const base = new URL(process.env.TEST_MYSQL_URL as string)
  const admin = await mariadb.createConnection({ host: base.hostname, port: Number(base.port || 3306), user: decodeURIComponent(base.username), password: decodeURIComponent(base.password) })
  await admin.query(`CREATE DATABASE \`${name}\``)
  await admin.query(`USE \`${name}\``)
  await admin.query(DDL.mysql)
  // Django's MySQL backend with USE_TZ: UTC, without a zone.
  for (const v of values) await admin.query(`${insert}(?, ?, ?, ?, ?, ?, ?)`, v.map((x) => x instanceof Date ? x.toISOString().replace('T', ' ').replace('Z', '') : x))
  t.teardown(async () => { await admin.query(`DROP DATABASE \`${name}\``); await admin.end() })
  return { DB_HOST: base.hostname, DB_USER: decodeURIComponent(base.username), DB_PASSWORD: decodeURIComponent(base.password), DB_NAME: name }
}

/** A block of the guide in bash, in `cwd`; `npx fastify-prisma-api-key` is the built CLI (no registry lookup). */
async function runBlock (block: string, cwd: string, env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  ran.add(block)
  const script = `npx () { shift; node ${JSON.stringify(CLI)} "$@"; }\n${block}`
  return await new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr })
    })
  })
}

const EXPORTS = { postgresql: 'psql ', mysql: 'mysql ', sqlite: 'sqlite3 ' }

eachDatabase(t, async (t, db) => {
  const cwd = mkdtempSync(join(tmpdir(), 'migrating-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  const rows = drfRows()
  const env = { ...await djangoDatabase(t, db, cwd, rows), ...await databaseEnv(db), API_KEYS_CONFIG: CONFIG }

  const exported = SHELL.filter((block) => block.startsWith(EXPORTS[db.provider]))
  t.equal(exported.length, 1, 'the guide has one export for this database')
  const exporting = await runBlock(exported[0], cwd, env)
  t.equal(exporting.code, 0, exporting.stderr)
  const file = db.provider === 'mysql' ? 'drf-keys.json' : 'drf-keys.csv'
  const text = readFileSync(join(cwd, file), 'utf8')
  t.notOk(rows.some((row) => text.includes(`${row.prefix}.${row.hashed_key}`)), 'no id column: it holds the hash again')

  const importing = SHELL.filter((block) => block.startsWith('npx fastify-prisma-api-key import') && block.endsWith(file))
  t.equal(importing.length, 1, `the guide imports ${file}`)
  const first = await runBlock(importing[0], cwd, env)
  t.equal(first.code, 0, first.stderr)
  t.equal(first.stdout, 'Imported 4 keys from drf-api-key; skipped 0 imported before.\n')
  t.notOk(rows.some((row) => `${first.stdout}${first.stderr}`.includes(row.hashed_key.slice(-20))), 'no hash in the output')
  const second = await runBlock(importing[0], cwd, env)
  t.equal(second.stdout, 'Imported 0 keys from drf-api-key; skipped 4 imported before.\n', 'a re-run skips them')
  const other = drfKey()
  writeFileSync(join(cwd, 'more.csv'), `prefix,hashed_key,name\n${other.prefix},${drfSha512(other.key)},new\nxyz,md5$$beef,bad\n`)
  const refused = await cli(['import', '--from', 'drf-api-key', 'more.csv', '--json'], env, cwd)
  t.equal(refused.code, 1, 'a refused row: exit 1')
  t.same(JSON.parse(refused.stdout), { imported: 1, skipped: 0, refused: [{ line: 3, prefix: 'xyz', reason: "its hash is not one of drf-api-key's (sha512$$<hex> or pbkdf2_sha256$<iterations>$<salt>$<hash>)" }] })
  t.equal(refused.stderr, '', 'no progress bar when stderr is no terminal')

  const prisma = db.prisma
  // docs/migrating.md: the app
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: prisma.apiKey, importedKeys: true })
  app.get('/orders', { config: { apiKey: true } }, async (request) => ({ name: request.apiKey?.name }))
  t.teardown(() => app.close())
  const call = async (key: string): Promise<unknown> => {
    const response = await app.inject({ url: '/orders', headers: { authorization: `Api-Key ${key}` } })
    return response.statusCode === 200 ? response.json().name : response.json().code
  }
  const [sha, pbkdf2, revoked, expired] = rows
  t.equal(await call(sha.key), 'billing, "prod"')
  t.equal(await call(pbkdf2.key), 'legacy')
  t.equal(await call(revoked.key), 'FST_API_KEY_REVOKED')
  t.equal(await call(expired.key), 'FST_API_KEY_EXPIRED')
  t.equal(await call(`${sha.prefix}.${'z'.repeat(32)}`), 'FST_API_KEY_INVALID')
  const stored = await prisma.apiKey.findUniqueOrThrow({ where: { prefix: sha.prefix } })
  t.match(stored, { importedFrom: 'drf-api-key', createdAt: sha.created, revoked: false, expiresAt: null })
  for (let i = 0; i < 200 && !(await prisma.apiKey.findUniqueOrThrow({ where: { prefix: pbkdf2.prefix } })).hashedKey.startsWith('$scrypt$'); i++) await sleep(10)
  t.match((await prisma.apiKey.findUniqueOrThrow({ where: { prefix: pbkdf2.prefix } })).hashedKey, /^\$scrypt\$ln=12,r=8,p=1\$/, 'upgraded on first use')
  t.equal(await call(pbkdf2.key), 'legacy', 'and still working')

  // docs/migrating.md: when to turn it off
  const { total } = await app.apiKeys.list({ status: 'active', where: { importedFrom: { not: null }, previousKeyExpiresAt: null } })
  t.equal(total, 3, 'the three active imported keys')
  await app.apiKeys.rotate(stored.id, { gracePeriod: 60_000 })
  t.equal((await app.apiKeys.list({ status: 'active', where: { importedFrom: { not: null }, previousKeyExpiresAt: null } })).total, 2, 'one fewer once one was rotated')
})

t.test('importKey from code, as the guide shows it', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const prisma = db.prisma
  const { prefix, key } = drfKey()
  const rows = [{ prefix, hashed_key: drfSha512(key), name: 'from code', revoked: false, expiry_date: null, created: new Date('2022-01-01T00:00:00Z') }]
  // docs/migrating.md: from code
  const manager = createApiKeyManager({ model: prisma.apiKey, importedKeys: true })
  for (const row of rows) {
    await manager.importKey({ from: 'drf-api-key', prefix: row.prefix, hashedKey: row.hashed_key, name: row.name, revoked: row.revoked, expiresAt: row.expiry_date, createdAt: row.created })
  }
  await manager.close()
  const check = createApiKeyManager({ model: prisma.apiKey, importedKeys: true, hashThreads: 1 })
  t.teardown(() => check.close())
  t.match(await check.verify(key), { valid: true, apiKey: { name: 'from code', importedFrom: 'drf-api-key' } })
})

t.test('every shell block of the guide ran', async (t) => {
  const skipped = PROVIDERS.some((provider) => skipReason(provider) !== null)
  for (const block of SHELL) t.ok(skipped || ran.has(block), block.split('\n')[0].slice(0, 60))
})
