// npm run bench: what a protected route costs next to an open one, measured
// so that the load generator is never the ceiling. Each server runs in its
// own process pinned to core 0; wrk (one thread) runs pinned to core 1. The
// rows are measured in interleaved rounds (every row once per round, after a
// short unmeasured warm-up); a row's ratio is the median of its per-round
// ratios to the open route's req/s in the same round. Server CPU comes from
// /proc/<pid>/stat (every thread of the server, hashing threads included).
// Before anything else the open route must keep its server's core busy:
// then the server, not wrk, is what is measured.
//
// Then bursts of keys the server never saw, sent from 50 connections by
// bench/burst.ts (pinned to core 1) while a probe times the open route: 300
// new keys on a warm server, and two restarts (a fresh server, --restart
// keys), both with a pepper: the first on rows with no stored HMAC, so every
// key costs a scrypt as without a pepper (and gets its HMAC written), the
// second a fresh server again, with the same pepper, on those rows.
//
// Last, the change feed across instances (bench/feed.ts): on each database,
// how soon a revocation made through one instance or in SQL is refused by
// another, and what the feed costs an idle instance.
//
// Options: --rounds 7, --seconds 5 (per row per round), --connections 50,
// --keys 10000 (the many-keys row), --cold 300, --restart 10000,
// --revocations 100 (per database), --databases sqlite,postgresql,mysql
// (postgresql and mysql when BENCH_POSTGRES_URL / TEST_POSTGRES_URL and
// BENCH_MYSQL_URL / TEST_MYSQL_URL are set), --quick (3 short rounds and few
// keys, to try it out), --only warm, restart or feed (those rows alone;
// restart and feed need no wrk).
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { DEFAULTS } from '../src/options.ts'
import { benchUrl, createBenchDatabase, createKeyRecords, createKeys, dropBenchDatabase, limitKey, openBenchDatabase, type BenchDatabase, type BenchProvider } from './database.ts'
import { measureFeed } from './feed.ts'
import type { ServerSettings } from './server.ts'
import { startServer as spawnServer, type Server } from './server-process.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    keys: { type: 'string', default: '10000' },
    cold: { type: 'string', default: '300' },
    restart: { type: 'string', default: '10000' },
    revocations: { type: 'string', default: '100' },
    databases: { type: 'string', default: 'sqlite,postgresql,mysql' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' }
  }
})
if (values.only !== undefined && values.only !== 'restart' && values.only !== 'feed' && values.only !== 'warm') {
  console.error('--only takes warm, restart or feed')
  process.exit(1)
}
const all = values.only === undefined
const rows = (name: string): boolean => all || values.only === name
const quick = values.quick
const rounds = quick ? 3 : Number(values.rounds)
const seconds = quick ? 2 : Number(values.seconds)
const connections = Number(values.connections)
const manyKeys = quick ? 1000 : Number(values.keys)
const coldKeys = quick ? 100 : Number(values.cold)
const restartKeys = quick ? 300 : Number(values.restart)
const revocations = quick ? 10 : Number(values.revocations)
const FAST = { ln: 10 }

if ((all || values.only === 'warm') && spawnSync('wrk', ['--version']).error !== undefined) {
  console.error('npm run bench needs wrk, the HTTP load generator: apt-get install wrk (Debian, Ubuntu), brew install wrk (macOS)')
  process.exit(1)
}
const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && availableParallelism() >= 2
if (!pinned) console.error('warning: taskset or a second core is missing: the server and wrk share cores, figures are not comparable')
const pin = (core: number, args: string[]): [string, string[]] => pinned ? ['taskset', ['-c', String(core), ...args]] : [args[0], args.slice(1)]
const tsx = [process.execPath, '--import', 'tsx']
const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100)

const startServer = async (settings: ServerSettings): Promise<Server> => await spawnServer(settings, pin(0, tsx))

/** CPU time (µs) a process has used, all its threads, from /proc. */
async function cpuMicros (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_US
}

function keysFile (keys: string[]): string {
  const file = join(tmpdir(), `bench-keys-${process.pid}-${Math.random().toString(36).slice(2)}.txt`)
  writeFileSync(file, keys.join('\n'))
  return file
}

interface Wrk { requests: number, micros: number, errors: number, non2xx: number, p50: number, p99: number, max: number }

async function wrk (url: string, target: Pick<Target, 'headers' | 'keysFile'>, secs: number): Promise<Wrk> {
  const headers = Object.entries(target.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`])
  const [command, args] = pin(1, ['wrk', '-t1', `-c${connections}`, `-d${secs}s`, '--latency', '-s', 'bench/wrk.lua', ...headers, url])
  const child = spawn(command, args, { env: { ...process.env, BENCH_KEYS: target.keysFile ?? '' }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`wrk exited with ${String(code)}`)
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Wrk
}

interface Target {
  id: string
  name: string
  server: Server
  path: string
  headers?: Record<string, string>
  keysFile?: string
  /** stopped (SIGSTOP) between its rounds: its background work must not land on other rows */
  pause?: boolean
  /**
   * A new server process for every round, with these settings. One process
   * can settle in a slower optimised state than another running the same
   * code (seen here: one of (c) and (c2) ~5 µs slower in every round, which
   * one varying between runs); with a process per round, that is one sample
   * of seven, not the row's fate.
   */
  fresh?: ServerSettings
  warmup?: number
  /**
   * Also measure the same process's open route each round. A process can
   * settle in a slower state for every route (seen: nextTick's object literal
   * gone megamorphic, ~4x the cost of a tick, until the plugin kept a tick
   * alive: src/tick-shape.ts), so a ratio to another process's open route
   * mixes that state in; the ratio to its own open route is the guard's cost alone.
   */
  ownOpen?: boolean
}

interface Round {
  rps: number
  cpuPerRequest: number
  cpuShare: number
  p50: number
  p99: number
  bad: number
  /** the open route of the same process, right after (rows with `ownOpen`) */
  own?: Sample
}

interface Sample { rps: number, cpuPerRequest: number }

async function measureRound (target: Target): Promise<Round> {
  if (target.fresh !== undefined) {
    const old = target.server
    target.server = await serve(target.fresh)
    servers.splice(servers.indexOf(old), 1)
    await old.stop()
  }
  if (target.pause === true) process.kill(target.server.pid, 'SIGCONT')
  const { result, used, wall } = await sample(target.server, target.path, target, target.warmup ?? 1)
  const own = target.ownOpen === true ? await sample(target.server, '/open', {}, 1) : undefined
  if (target.pause === true) process.kill(target.server.pid, 'SIGSTOP')
  return {
    own: own === undefined ? undefined : { rps: rate(own.result), cpuPerRequest: own.used / own.result.requests },
    rps: rate(result),
    cpuPerRequest: used / result.requests,
    cpuShare: used / wall,
    p50: result.p50 / 1000,
    p99: result.p99 / 1000,
    bad: result.non2xx + result.errors
  }
}

// An unmeasured warm-up, then one measured wrk run and the server CPU (µs) and wall time (µs) it took.
async function sample (server: Server, path: string, load: Pick<Target, 'headers' | 'keysFile'>, warmup: number): Promise<{ result: Wrk, used: number, wall: number }> {
  const url = `${server.url}${path}`
  await wrk(url, load, warmup)
  const cpu = await cpuMicros(server.pid)
  const started = performance.now()
  const result = await wrk(url, load, seconds)
  const wall = (performance.now() - started) * 1000
  return { result, used: await cpuMicros(server.pid) - cpu, wall }
}

const rate = (result: Wrk): number => result.requests / (result.micros / 1e6)

// A row's CPU per request over its own process's open route: the median of the per-round differences.
const overOwnOpen = (rows: Round[]): number => median(rows.map((r) => r.cpuPerRequest - (r.own as Sample).cpuPerRequest))

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const fixed = (n: number, digits = 2): string => n.toFixed(digits)

interface Burst { keys: number, seconds: number, statuses: Record<string, number>, quiet: Latency, during: Latency }
interface Latency { p50: number, p99: number, max: number, count: number }

async function burst (server: Server, keys: string[], quietMs: number): Promise<Burst> {
  const file = keysFile(keys)
  const [command, args] = pin(1, [...tsx, 'bench/burst.ts'])
  const settings = { url: server.url, keysFile: file, connections, quietMs }
  const child = spawn(command, args, { env: { ...process.env, BENCH_BURST: JSON.stringify(settings) }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`burst client exited with ${String(code)}`)
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Burst
}

const log = (line: string): void => { process.stderr.write(`${line}\n`) }

// The HMAC writes of (g) run after their checks: (h) starts once they all landed.
async function waitForHmacs (count: number): Promise<void> {
  const { prisma, close } = await openBenchDatabase(sqlite)
  try {
    while (await prisma.apiKey.count({ where: { keyHmac: { not: null } } }) < count) await sleep(100)
  } finally {
    await close()
  }
}

console.log(`# npm run bench${process.argv.slice(2).length > 0 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\n`)
console.log(`Node ${process.version}, ${availableParallelism()} cores; ${pinned ? 'servers pinned to core 0, wrk and the burst client to core 1' : 'NOT pinned'}; ` +
  `wrk -t1 -c${connections}; ${rounds} interleaved rounds of ${seconds} s per row, after a warm-up; default scrypt (ln=12) and hashThreads (${DEFAULTS.hashThreads}) unless noted\n`)

const databases = values.databases.split(',')
  .filter((name) => name === 'sqlite' || ((name === 'postgresql' || name === 'mysql') && benchUrl(name) !== undefined)) as BenchProvider[]
const dbs = new Map<string, BenchDatabase>()
// The throughput rows run on SQLite and PostgreSQL; the change feed's on all.
for (const provider of databases) if (provider !== 'mysql') dbs.set(provider, await createBenchDatabase(provider))
const sqlite = dbs.get('sqlite') as BenchDatabase
const servers: Server[] = []
const serve = async (settings: ServerSettings): Promise<Server> => {
  const server = await startServer(settings)
  servers.push(server)
  return server
}

const fresh = async (settings: ServerSettings): Promise<{ server: Server, fresh: ServerSettings }> => ({ server: await serve(settings), fresh: settings })

// The one-key rows: the open route, the bar to beat, ours, and ours with
// #14's features on (suspension, an allowlist and credits the key has, usage
// counting). Two billion credits outlast any run: every call spends one.
async function warmTargets (): Promise<{ one: string, targets: Target[] }> {
  const [one] = await createKeys(sqlite, 1)
  const [listed] = await createKeyRecords(sqlite, 1)
  await limitKey(sqlite, listed.id, { allowedIps: '10.0.0.0/8 127.0.0.0/8 2001:db8::/32', credits: 2_000_000_000 })
  const bearerKey = 'a'.repeat(32)
  const targets: Target[] = [
    { id: 'a', name: 'Fastify, open route', ...await fresh({ guard: 'none' }), path: '/open' },
    { id: 'b', name: '@fastify/bearer-auth, 1 key', ...await fresh({ guard: 'bearer', bearerKey }), path: '/protected', ownOpen: true, headers: { authorization: `Bearer ${bearerKey}` } },
    { id: 'c', name: 'ours, 1 key, warm', ...await fresh({ guard: 'api-key', database: sqlite }), path: '/protected', ownOpen: true, headers: { authorization: `Api-Key ${one}` } },
    {
      id: 'c2',
      name: 'ours, 1 key, warm, with suspension, usage counting, credits and an IP allowlist the key has (3 ranges)',
      ...await fresh({ guard: 'api-key', database: sqlite, features: true }),
      path: '/protected',
      ownOpen: true,
      headers: { authorization: `Api-Key ${listed.key}` }
    }
  ]
  return { one, targets }
}

async function measureTable (targets: Target[]): Promise<Map<string, Round[]>> {
  const results = new Map<string, Round[]>(targets.map((target) => [target.id, []]))
  for (let round = 0; round < rounds; round++) {
    log(`round ${round + 1} of ${rounds}`)
    // Each round starts at another row, so no row always follows the same one.
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(i + round) % targets.length]
    ;(results.get(target.id) as Round[]).push(await measureRound(target))
    }
  }
  return results
}

function printTable (targets: Target[], results: Map<string, Round[]>): void {
  const open = results.get('a') as Round[]
  const share = median(open.map((r) => r.cpuShare))
  console.log(`The open route kept its server at ${fixed(share * 100, 0)}% of a core (median of rounds; ${open.map((r) => fixed(r.cpuShare * 100, 0)).join(', ')}%): ` +
  (share >= 0.9 ? 'server-bound, wrk is not the ceiling.\n' : 'NOT server-bound: wrk or the machine is the ceiling, the ratios below understate the cost.\n'))
  console.log('| row | target | req/s | ratio to (a), median (min–max) | server CPU µs/req (vs a) | p50 ms | p99 ms | non-2xx |')
  console.log('|---|---|---|---|---|---|---|---|')
  const openCpu = median(open.map((r) => r.cpuPerRequest))
  for (const target of targets) {
    const rows = results.get(target.id) as Round[]
    const ratios = rows.map((r, i) => r.rps / open[i].rps)
    const cpu = median(rows.map((r) => r.cpuPerRequest))
    console.log(`| ${target.id} | ${target.name} | ${fixed(median(rows.map((r) => r.rps)), 0)} | ${fixed(median(ratios), 3)} (${fixed(Math.min(...ratios), 3)}–${fixed(Math.max(...ratios), 3)}) | ` +
    `${fixed(cpu, 1)} (${cpu >= openCpu ? '+' : ''}${fixed(cpu - openCpu, 1)}) | ${fixed(median(rows.map((r) => r.p50)))} | ${fixed(median(rows.map((r) => r.p99)))} | ${rows.reduce((sum, r) => sum + r.bad, 0)} |`)
  }
  const own = targets.filter((target) => target.ownOpen === true)
  if (own.length > 0) {
    console.log('\nThe same rows against the open route of their own process, measured right after them in each round (the guard alone, without the process\'s state):\n')
    console.log('| row | ratio to its own open route, median (min–max) | server CPU µs/req (vs its own open route) | its own open route, req/s and µs/req |')
    console.log('|---|---|---|---|')
    for (const target of own) {
      const rows = results.get(target.id) as Round[]
      const mine = rows.map((r) => r.own as Sample)
      const ratios = rows.map((r, i) => r.rps / mine[i].rps)
      const extra = overOwnOpen(rows)
      console.log(`| ${target.id} | ${fixed(median(ratios), 3)} (${fixed(Math.min(...ratios), 3)}–${fixed(Math.max(...ratios), 3)}) | ` +
        `${extra >= 0 ? '+' : ''}${fixed(extra, 1)} (median of per-round differences) | ${fixed(median(mine.map((m) => m.rps)), 0)}, ${fixed(median(mine.map((m) => m.cpuPerRequest)), 1)} (${mine.map((m) => fixed(m.cpuPerRequest, 1)).join(', ')}) |`)
    }
  }
  const c = results.get('c')
  const c2 = results.get('c2')
  if (c !== undefined && c2 !== undefined) {
    const extra = median(c2.map((r) => r.cpuPerRequest)) - median(c.map((r) => r.cpuPerRequest))
    console.log(`\n(c2) the features' cost over (c): ${extra >= 0 ? '+' : ''}${fixed(extra, 1)} µs server CPU per request (goal: at most +1 µs).`)
    if (c[0].own !== undefined && c2[0].own !== undefined) {
      // Each row's cost over its own process's open route, then the difference: the process states cancel out.
      const net = overOwnOpen(c2) - overOwnOpen(c)
      console.log(`(c2) the same, each over its own open route: ${net >= 0 ? '+' : ''}${fixed(net, 1)} µs (${fixed(overOwnOpen(c2), 1)} − ${fixed(overOwnOpen(c), 1)}).`)
    }
  }
}

try {
  if (values.only === 'warm') {
    // The one-key rows alone (a, b, c, c2): a few minutes, for a change to the warm path.
    log('creating keys...')
    const { targets } = await warmTargets()
    printTable(targets, await measureTable(targets))
  }
  if (all) {
    log('creating keys...')
    const { one, targets } = await warmTargets()
    const many = await createKeys(sqlite, manyKeys, FAST)
    // As a team with many keys runs it: the change feed on, so rows are trusted a minute.
    const manyServer = await serve({ guard: 'api-key', database: sqlite, scrypt: FAST, changeFeed: true })
    log(`warming ${many.length} keys...`)
    const warmed = await burst(manyServer, many, 0)
    targets.push({ id: 'd', name: `ours, ${many.length} keys round-robin, warm, change feed on (ln=10 hashes)`, server: manyServer, path: '/protected', keysFile: keysFile(many), pause: true, warmup: 3 })
    for (const [provider, db] of dbs) {
      const [key] = provider === 'sqlite' ? [one] : await createKeys(db, 1)
      targets.push({ id: `e ${provider}`, name: `ours, cacheTtl 0 (a read per check; concurrent checks of one key share it), ${provider}`, server: await serve({ guard: 'api-key', database: db, cacheTtl: 0 }), path: '/protected', headers: { authorization: `Api-Key ${key}` } })
    }

    printTable(targets, await measureTable(targets))
    console.log(`\n(d) warm-up: ${warmed.keys} first checks in ${fixed(warmed.seconds, 1)} s.`)

    // The many-keys server left alone: what it costs idle (its change feed's polls), and its longest event-loop turn.
    process.kill(manyServer.pid, 'SIGCONT')
    await sleep(3000)
    await manyServer.reset()
    const idleCpu = await cpuMicros(manyServer.pid)
    const idleSeconds = quick ? 5 : 20
    await sleep(idleSeconds * 1000)
    const idleUsed = await cpuMicros(manyServer.pid) - idleCpu
    const idleStats = await manyServer.stats()
    console.log(`(d) idle with ${many.length} cached rows: ${fixed(idleUsed / idleSeconds / 1000, 1)} ms CPU per second ` +
    `(${fixed(idleUsed / idleSeconds / many.length, 2)} µs per row per second); longest event-loop delay ${fixed(idleStats.maxDelayMs, 1)} ms.`)
    process.kill(manyServer.pid, 'SIGSTOP')

    log(`creating ${coldKeys} keys at the default parameters...`)
    const cold = await createKeys(sqlite, coldKeys)

    const coldServer = await serve({ guard: 'api-key', database: sqlite })
    // What any server pays once (the first query, the first hash) is paid before the burst.
    await burst(coldServer, [one], 0)
    await coldServer.reset()
    const c = await burst(coldServer, cold, 2000)
    const cStats = await coldServer.stats()
    console.log(`\n(f) cold burst: ${c.keys} new keys from ${connections} connections in ${fixed(c.seconds, 2)} s: ${fixed(c.keys / c.seconds, 1)} verifications/s ` +
    `(${fixed(c.keys / c.seconds / DEFAULTS.hashThreads, 1)} per hashing thread), answers ${JSON.stringify(c.statuses)} (${c.statuses[503] ?? 0} 503 BUSY at hashQueue ${DEFAULTS.hashQueue}); ` +
    `event-loop max delay ${fixed(cStats.maxDelayMs, 1)} ms; open route p50/p99/max ${fixed(c.during.p50)}/${fixed(c.during.p99)}/${fixed(c.during.max)} ms during it, ` +
    `${fixed(c.quiet.p50)}/${fixed(c.quiet.p99)}/${fixed(c.quiet.max)} ms quiet (p99 x${fixed(c.during.p99 / c.quiet.p99)}).`)
  }

  if (rows('restart')) {
    log(`creating ${restartKeys} keys at the default parameters...`)
    const restart = await createKeys(sqlite, restartKeys)
    // Each restart server is stopped before the next starts: both run on core 0.
    const restartRow = async (label: string, pepper: string, sealed: boolean): Promise<void> => {
      const fresh = await startServer({ guard: 'api-key', database: sqlite, pepper })
      try {
        const r = await burst(fresh, restart, 0)
        const fivexx = Object.entries(r.statuses).filter(([status]) => status.startsWith('5')).reduce((sum, [, n]) => sum + n, 0)
        console.log(`${label}: a fresh server took ${r.keys} keys it never saw from ${connections} connections; every key had its 200 after ${fixed(r.seconds, 1)} s; ` +
        `answers ${JSON.stringify(r.statuses)}: ${fivexx} 5xx.`)
        if (sealed) await waitForHmacs(restart.length)
      } finally {
        await fresh.stop()
      }
    }
    const pepper = randomBytes(32).toString('base64')
    await restartRow('(g) restart, no stored HMAC (as without a pepper: every key one scrypt; a pepper is set, so each check also writes its HMAC)', pepper, true)
    await restartRow('(h) restart with the same pepper, on the rows (g) left (every key by its HMAC)', pepper, false)
  }

  if (rows('feed')) {
    console.log(`\n(i) change feed: two server processes per database with the feed and the defaults, but B's cacheTtl 10 min so only the feed can refuse (${quick ? 300 : manyKeys} keys cached on B); ` +
    'a revocation through A or in SQL, after a random wait, until B refuses the key:\n')
    console.log('| database | feed | revocations | p50 ms | p99 ms | max ms | B idle: SQL statements/s |')
    console.log('|---|---|---|---|---|---|---|')
    for (const provider of databases) {
      log(`change feed on ${provider}...`)
      const f = await measureFeed(provider, serve, { keys: quick ? 300 : manyKeys, revocations, idleSeconds: quick ? 5 : 20 })
      console.log(`| ${provider} | ${provider === 'postgresql' ? 'LISTEN' : 'log polled every 1 s'} | ${f.revocations} | ${fixed(f.p50, 1)} | ${fixed(f.p99, 1)} | ${fixed(f.max, 1)} | ${fixed(f.idleQueriesPerSecond, 2)} |`)
    }
  }
} finally {
  for (const server of servers) {
    process.kill(server.pid, 'SIGCONT')
    await server.stop()
  }
  for (const db of dbs.values()) await dropBenchDatabase(db)
}
