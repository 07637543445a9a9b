// Node's process.nextTick stays fast in a process that registered the plugin:
// without a tick kept alive, full collections with no tick queued free the
// tick object's maps, and after a few of them nextTick's inline caches go
// megamorphic for good (src/tick-shape.ts). Read from V8's own feedback.
import { spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

const FIXTURE = new URL('./fixtures/tick-shape.ts', import.meta.url).pathname

const dir = mkdtempSync(join(tmpdir(), 'tick-shape-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

/** The states of nextTick's object-literal inline caches after the collections. */
function states (mode: string): string[] {
  // V8 prints with C's stdio: into a file, not a pipe, whose writes can be cut short.
  const file = join(dir, `${mode}.txt`)
  const out = openSync(file, 'w')
  // As an app runs, without tap's coverage in the child (tap adds its hook to
  // every child process): precise coverage makes V8 allocate feedback at a
  // function's first call, and caches filled from the first tick on go
  // megamorphic whatever is kept.
  const env = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  const run = spawnSync(process.execPath, ['--expose-gc', '--allow-natives-syntax', '--import', 'tsx', FIXTURE, mode], { env, stdio: ['ignore', out, 'pipe'], encoding: 'utf8' })
  closeSync(out)
  if (run.status !== 0) throw new Error(`the fixture failed: ${run.stderr}`)
  return [...readFileSync(file, 'utf8').matchAll(/DefineKeyedOwnPropertyInLiteral ([A-Z]+)/g)].map((m) => m[1])
}

t.test('without a tick kept, the collections make nextTick megamorphic (the fault, on this Node)', async (t) => {
  const found = states('none')
  t.ok(found.length >= 3, `${found.length} caches read`)
  t.ok(found.includes('MEGAMORPHIC'), found.join(' '))
})

for (const [mode, what] of [['keep', 'keepTickShape()'], ['plugin', 'registering the plugin']]) {
  t.test(`${what} keeps every one monomorphic`, async (t) => {
    const found = states(mode)
    t.ok(found.length >= 3, `${found.length} caches read`)
    t.same(found.filter((state) => state !== 'MONOMORPHIC'), [], found.join(' '))
  })
}
