import type { Test } from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { findConfig, loadConfig, type Loaders } from '../src/cli/config.ts'

function dir (t: Test, files: Record<string, string> = {}): string {
  const path = mkdtempSync(join(tmpdir(), 'cli-config-'))
  t.teardown(() => rmSync(path, { recursive: true, force: true }))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text)
  return path
}

const MODEL = '{ create () {}, findUnique () {}, findMany () {}, count () {}, update () {}, updateMany () {} }'
const usage = (message: RegExp): { exitCode: number, message: RegExp } => ({ exitCode: 2, message })

t.test('--config, then $API_KEYS_CONFIG, then ./api-keys.config.{mjs,js,ts}', async (t) => {
  const cwd = dir(t, { 'api-keys.config.ts': '', 'api-keys.config.js': '', 'mine.mjs': '' })
  mkdirSync(join(cwd, 'sub'))
  t.equal(findConfig(undefined, {}, cwd), join(cwd, 'api-keys.config.js'))
  t.equal(findConfig('mine.mjs', { API_KEYS_CONFIG: 'other.mjs' }, cwd), join(cwd, 'mine.mjs'))
  t.equal(findConfig('../mine.mjs', {}, join(cwd, 'sub')), join(cwd, 'mine.mjs'), 'relative to the current directory')
  t.equal(findConfig(undefined, { API_KEYS_CONFIG: join(cwd, 'mine.mjs') }, '/'), join(cwd, 'mine.mjs'))
  t.equal(findConfig(undefined, { API_KEYS_CONFIG: '' }, cwd), join(cwd, 'api-keys.config.js'), 'an empty variable is unset')
  writeFileSync(join(cwd, 'api-keys.config.mjs'), '')
  t.equal(findConfig(undefined, {}, cwd), join(cwd, 'api-keys.config.mjs'))
  rmSync(join(cwd, 'api-keys.config.mjs'))
  rmSync(join(cwd, 'api-keys.config.js'))
  t.equal(findConfig(undefined, {}, cwd), join(cwd, 'api-keys.config.ts'))

  t.throws(() => findConfig('nope.mjs', {}, cwd), usage(/^Config not found: .*nope\.mjs \(given by --config\)$/))
  t.throws(() => findConfig(undefined, { API_KEYS_CONFIG: 'nope.mjs' }, cwd), usage(/\(given by API_KEYS_CONFIG\)$/))
  t.throws(() => findConfig(undefined, {}, join(cwd, 'sub')), usage(/^No config found: write \.\/api-keys\.config\.mjs with `export default \{ model: prisma\.apiKey/))
})

t.test('the default export: an object or a function returning one', async (t) => {
  const cwd = dir(t, {
    'object.mjs': `export default { model: ${MODEL}, brand: 'acme_' }\n`,
    'function.mjs': `export default () => ({ model: ${MODEL} })\n`,
    'async.mjs': `globalThis.closed = 0\nexport default async () => ({ model: ${MODEL}, close: async () => { globalThis.closed++ } })\n`
  })
  const object = await loadConfig(join(cwd, 'object.mjs'))
  t.match(object.options, { brand: 'acme_', model: {} })
  await object.close()
  t.match((await loadConfig(join(cwd, 'function.mjs'))).options, { model: {} })
  const withClose = await loadConfig(join(cwd, 'async.mjs'))
  t.notOk('close' in withClose.options, 'close is not a manager option')
  await withClose.close()
  t.equal((globalThis as any).closed, 1)
})

t.test('configs that give no model', async (t) => {
  const cwd = dir(t, {
    'none.mjs': 'export const model = {}\n',
    'empty.mjs': 'export default {}\n',
    'null.mjs': 'export default async () => ({ model: null })\n',
    'array.mjs': 'export default []\n',
    'close.mjs': `export default { model: ${MODEL}, close: 'yes' }\n`,
    'throws.mjs': 'export default () => { throw new Error("DATABASE_URL is not set\\n  at line 3") }\n',
    'syntax.mjs': 'export default {\n'
  })
  for (const name of ['none.mjs', 'empty.mjs', 'null.mjs', 'array.mjs']) {
    await t.rejects(loadConfig(join(cwd, name)), usage(/ exports no model: write `export default \{ model: prisma\.apiKey, close: \(\) => prisma\.\$disconnect\(\) \}`, or export a function that returns it$/), name)
  }
  await t.rejects(loadConfig(join(cwd, 'close.mjs')), usage(/close\.mjs: close must be a function/))
  await t.rejects(loadConfig(join(cwd, 'throws.mjs')), usage(/^Could not load .*throws\.mjs: DATABASE_URL is not set$/))
  await t.rejects(loadConfig(join(cwd, 'syntax.mjs')), usage(/^Could not load .*syntax\.mjs: /))
})

t.test('a TypeScript config needs tsx', async (t) => {
  const loaders = (registerTypeScript: Loaders['registerTypeScript']): Loaders => ({
    registerTypeScript,
    importModule: async () => ({ default: { model: {} } })
  })
  let registered = 0
  const ok = loaders(async () => { registered++ })
  for (const name of ['c.ts', 'c.mts', 'c.cts']) t.match((await loadConfig(`/app/${name}`, ok)).options, { model: {} })
  await loadConfig('/app/c.mjs', ok)
  t.equal(registered, 3, 'only for TypeScript')
  const missing = loaders(async () => { throw Object.assign(new Error("Cannot find package 'tsx'"), { code: 'ERR_MODULE_NOT_FOUND' }) })
  await t.rejects(loadConfig('/app/api-keys.config.ts', missing), usage(/^\/app\/api-keys\.config\.ts is TypeScript, which needs tsx: run npm i -D tsx, or write the config as \.mjs$/))
  const broken = loaders(async () => { throw new Error('tsx failed') })
  await t.rejects(loadConfig('/app/c.ts', broken), { message: 'tsx failed' })
})

t.test('a config that cannot reach its database says so', async (t) => {
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  const loaders: Loaders = { registerTypeScript: async () => {}, importModule: async () => ({ default: async () => { throw refused } }) }
  await t.rejects(loadConfig('/app/c.mjs', loaders), refused)
})
