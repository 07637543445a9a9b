// Several app processes on one database (SQLite: one file), each with the
// change feed and the defaults: a key revoked through one instance, or in
// SQL, is refused by the others long before the 60 s TTL could explain it.
// How soon (the distribution) is measured by `npm run bench`, not here.
// A suspension travels the same way, the usage counts of instances serving
// one key at once add up exactly, and a key's credits are never overspent.
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { auth } from './helpers/app.ts'
import { eachDatabase, type Location } from './helpers/databases.ts'

async function startInstance (t: Test, location: Location): Promise<string> {
  // The instances run the built package (dist/) under tsx, whose coverage,
  // mapped back to the sources, miscounts theirs: tap records none for them.
  const { NODE_V8_COVERAGE, ...inherited } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/instance.ts'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...inherited, _TAPJS_PROCESSINFO_COVERAGE_: '0', INSTANCE: JSON.stringify(location), DATABASE_URL: 'url' in location ? location.url : '' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  })
  return await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      const m = /listening (\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}: ${out}`)))
  })
}

// Long enough to be sure it is the feed, far short of the TTL (60 s).
const FEED_BOUND = 10_000

eachDatabase(t, async (t, db) => {
  const [a, b] = await Promise.all([startInstance(t, db.location), startInstance(t, db.location)])
  const post = async (url: string, body?: object): Promise<any> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) })
    return await res.json()
  }
  const code = async (key: string): Promise<string> => {
    const res = await fetch(`${b}/protected`, { headers: auth(key) })
    return res.status === 200 ? 'ok' : (await res.json() as { code: string }).code
  }
  const keys: Array<{ id: string, key: string }> = []
  for (let i = 0; i < 6; i++) keys.push(await post(`${a}/keys`, { name: `shared ${i}` }))
  for (const { key } of keys) t.equal(await code(key), 'ok', 'instance B trusts a key instance A made')
  const table = db.provider === 'mysql' ? '`ApiKey`' : '"ApiKey"'
  const waits: number[] = []
  for (const [i, { id, key }] of keys.entries()) {
    const how = i % 2 === 0 ? 'through instance A' : 'in SQL'
    if (i % 2 === 0) await post(`${a}/keys/${id}/revoke`)
    else await db.query(`UPDATE ${table} SET revoked = true WHERE id = '${id}'`)
    const started = Date.now()
    while (await code(key) !== 'FST_API_KEY_REVOKED' && Date.now() - started < FEED_BOUND) await sleep(5)
    waits.push(Date.now() - started)
    t.ok(Date.now() - started < FEED_BOUND, `revoked ${how}: instance B refuses it`)
  }
  t.comment(`instance B refused after ${waits.join(', ')} ms`)

  const suspended = await post(`${a}/keys`, { name: 'suspended' })
  t.equal(await code(suspended.key), 'ok')
  for (const [action, expected] of [['disable', 'FST_API_KEY_DISABLED'], ['enable', 'ok']] as const) {
    await post(`${a}/keys/${suspended.id}/${action}`)
    const started = Date.now()
    while (await code(suspended.key) !== expected && Date.now() - started < FEED_BOUND) await sleep(5)
    t.ok(Date.now() - started < FEED_BOUND, `${action}d through instance A: instance B answers ${expected}`)
  }

  // Usage: both instances count the same key at once, each flushes its own counts.
  const counted = await post(`${a}/keys`, { name: 'counted' })
  const calls = async (base: string, n: number): Promise<number> => {
    const codes = await Promise.all(Array.from({ length: n }, async () => (await fetch(`${base}/protected`, { headers: auth(counted.key) })).status))
    return codes.filter((status) => status === 200).length
  }
  const served = (await Promise.all([calls(a, 150), calls(b, 150), calls(a, 50), calls(b, 50)])).reduce((x, y) => x + y, 0)
  t.equal(served, 400)
  await Promise.all([post(`${a}/flush`), post(`${b}/flush`)])
  const rows = await db.prisma.apiKeyUsage.findMany({ where: { keyId: counted.id } })
  t.equal(rows.reduce((sum, row) => sum + row.count, 0), 400, 'two processes\' counts add up exactly')
  t.ok(rows.length <= 2, 'one row per period (two if the test crossed midnight UTC)')

  // Credits: two processes spend one key's 100 at once, each reserving blocks.
  const metered = await post(`${a}/keys`, { name: 'metered', credits: 100 })
  const statuses = (await Promise.all([a, b, a, b].map(async (base) => await Promise.all(Array.from({ length: 100 }, async () =>
    (await fetch(`${base}/protected`, { headers: auth(metered.key) })).status))))).flat()
  t.equal(statuses.filter((status) => status === 200).length, 100, 'exactly the key\'s 100 credits were spent, across two processes')
  t.equal(statuses.filter((status) => status === 429).length, 300, 'every other call: 429')
  t.equal((await db.prisma.apiKey.findUnique({ where: { id: metered.id } }))!.credits, 0, 'none left in the database, none below zero')
})
