import type { Test } from 'tap'
// docs/cli.md as a user follows it: each of its config modules (the files in
// test/fixtures/cli-docs/, which docs.test.ts holds to the guide word for word)
// put in an app's folder and found there by the real CLI; each command's
// synopsis and options against the CLI's own help; and its example errors as
// the CLI prints them.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { testManager } from './helpers/app.ts'
import { cli, CONFIG, databaseEnv, UNREACHABLE } from './helpers/cli.ts'
import type { Provider } from '../prisma/apply.ts'
import { openDatabase, skipReason, type TestDatabase } from './helpers/databases.ts'
import { ROOT } from './helpers/pack.ts'

const FIXTURES = join(ROOT, 'test/fixtures/cli-docs')
const guide = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8')

/**
 * A folder as an app has it: a package.json of an ES module project, its
 * dependencies, its Prisma client generated into src/generated/prisma, and the
 * fixture's files (the config module, and src/db.ts where it has one).
 */
function appFolder (t: Test, fixture: string, provider: Provider): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `cli-docs-${fixture}-`)))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  cpSync(join(FIXTURES, fixture), dir, { recursive: true })
  mkdirSync(join(dir, 'src/generated'), { recursive: true })
  symlinkSync(join(ROOT, 'prisma/generated', provider), join(dir, 'src/generated/prisma'))
  return dir
}

/** The CLI run in the app's folder, finding the config there by itself: creates a key, lists it, and the key works. */
async function createsWorkingKey (t: Test, db: TestDatabase, dir: string, env: Record<string, string>, brand = ''): Promise<void> {
  const created = await cli(['create', '--name', 'from the docs', '--json'], env, dir)
  t.equal(created.code, 0, created.stderr)
  const { apiKey, key } = JSON.parse(created.stdout)
  t.ok(key.startsWith(brand), brand === '' ? 'no brand' : `the config's brand, ${brand}`)
  const listed = await cli(['list', '--json'], env, dir)
  t.equal(listed.code, 0, listed.stderr)
  t.ok(JSON.parse(listed.stdout).items.some((item: { id: string }) => item.id === apiKey.id), 'list finds it')
  const manager = testManager(db.prisma.apiKey, { brand, cacheTtl: 0 })
  t.teardown(() => manager.close())
  t.match(await manager.verify(key), { valid: true, apiKey: { id: apiKey.id, name: 'from the docs' } }, 'the key works')
}

/** A migrated SQLite database, and the DATABASE_URL the guide's SQLite configs read. */
async function sqlite (t: Test): Promise<{ db: TestDatabase, env: Record<string, string> }> {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const { CLI_DATABASE_URL: file } = await databaseEnv(db)
  return { db, env: { DATABASE_URL: `file:${file}` } }
}

t.test('the SQLite config', async (t) => {
  const { db, env } = await sqlite(t)
  await createsWorkingKey(t, db, appFolder(t, 'sqlite', 'sqlite'), env, 'acme_')
})

t.test('the PostgreSQL config, its schema in the URL', skipReason('postgresql') === null ? {} : { skip: skipReason('postgresql') as string }, async (t) => {
  const db = await openDatabase('postgresql')
  t.teardown(() => db.close())
  const { CLI_DATABASE_URL: url, CLI_DATABASE_SCHEMA: schema } = await databaseEnv(db)
  const dir = appFolder(t, 'postgresql', 'postgresql')
  await createsWorkingKey(t, db, dir, { DATABASE_URL: `${url}?schema=${schema}` })
  // The suite's own environment has no DATABASE_URL (its databases are TEST_*_URL).
  const unset = await cli(['list'], {}, dir)
  t.equal(unset.code, 2, 'without DATABASE_URL: a config error')
  t.match(unset.stderr, 'DATABASE_URL is not set')
})

t.test('the config that imports the app\'s own client module', async (t) => {
  const { db, env } = await sqlite(t)
  await createsWorkingKey(t, db, appFolder(t, 'module', 'sqlite'), env)
})

t.test('the JavaScript config, importing the app\'s compiled output', async (t) => {
  const { db, env } = await sqlite(t)
  const dir = appFolder(t, 'javascript', 'sqlite')
  // The app's build: the module's src/db.ts and its generated client, by tsc, to dist/.
  cpSync(join(FIXTURES, 'module/src/db.ts'), join(dir, 'src/db.ts'))
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck',
    '--allowImportingTsExtensions', '--rewriteRelativeImportExtensions', '--rootDir', 'src', '--outDir', 'dist', 'src/db.ts'], { cwd: dir })
  await createsWorkingKey(t, db, dir, env)
})

/** The text of the guide's `### ...` section that names `command` in its heading, up to the next heading. */
function section (command: string): string {
  const match = new RegExp(`^### [^\\n]*\`${command}\`[^\\n]*\\n([\\s\\S]*?)(?=^##)`, 'm').exec(guide)
  if (match === null) throw new Error(`docs/cli.md has no section for ${command}`)
  return match[1]
}

const optionsOf = (text: string): Set<string> => new Set(text.match(/--[a-z][a-z-]*/g))
// Every command's, in the guide's table of shared options.
const SHARED = new Set(['--config', '--help', '--actor'])

t.test('each command of the CLI\'s help has a section whose synopsis names its options', async (t) => {
  const main = await cli(['--help'])
  const commands = [...main.stdout.split('Commands:\n')[1].split('\n\n')[0].matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]).filter((name) => name !== 'help')
  t.ok(commands.length >= 13, `${commands.length} commands`)
  for (const command of commands) {
    const help = await cli(['help', command])
    t.equal(help.code, 0)
    const helped = optionsOf(help.stdout.split('Options:\n')[1])
    const text = section(command)
    const synopsis = /^```sh\n([\s\S]*?)^```$/m.exec(text)?.[1] ?? ''
    t.ok(synopsis.includes(`fastify-prisma-api-key ${command}`), `${command}: a synopsis`)
    const named = [...helped].filter((option) => !SHARED.has(option))
    t.same([...optionsOf(synopsis)].sort(), named.sort(), `${command}: the synopsis names the options its help lists`)
    t.same(named.filter((option) => !text.includes(`\`${option}`)), [], `${command}: the section explains each`)
  }
})

t.test('the guide\'s example errors are what the CLI prints', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const env = await databaseEnv(db)
  const manager = testManager(db.prisma.apiKey)
  t.teardown(() => manager.close())
  const { apiKey: { prefix } } = await manager.create({ name: 'for rotate' })
  const run = async (...args: string[]): Promise<string> => (await cli([...args, '--config', CONFIG], env)).stderr
  const shown = /For example:\n\n```text\n([\s\S]*?)^```$/m.exec(guide)?.[1].split('\n').filter((line) => line !== '') ?? []
  const printed = [
    await run('rename'),
    await run('create', '--name', 'x', '--expires', '30 days'),
    await run('rotate', prefix, '--grace', '1 hour'),
    await run('show', '3fQ9xLpX'),
    // Nothing is unreachable on 127.0.0.1:5432 here (PostgreSQL listens there): port 1 stands in for it.
    (await cli(['list', '--config', CONFIG], UNREACHABLE)).stderr.replace('127.0.0.1:1', '127.0.0.1:5432')
  ].map((stderr) => stderr.trimEnd())
  t.same(shown, printed)
})
