// npm run bench: every row side by side in one run, each server in its own
// process and the load generator (autocannon) in another, over real HTTP on
// 127.0.0.1. With taskset, the server is pinned to core 0 and the load to
// core 1. Prints req/s, p50 and p99 latency and each row's ratio to (a).
//
// Options: --duration 10 (s per row), --connections 50, --keys 10000 (row d),
// --cold 600 (keys for row f), --requests 1000000 (row h), --databases
// sqlite,postgresql (postgresql runs when BENCH_POSTGRES_URL or
// TEST_POSTGRES_URL is set), --quick (short rows and few keys, to try it out).
// BENCH_NO_PIN=1 leaves scheduling to the OS (the hashing thread then gets a
// core of its own instead of sharing the server's).
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createApiKeyManager } from '../src/index.ts'
import { randomBase62, SECRET_LENGTH, withChecksum } from '../src/key-format.ts'
import { DEFAULTS } from '../src/options.ts'
import { createBenchDatabase, dropBenchDatabase, openBenchDatabase, type BenchDatabase } from './database.ts'
import type { ServerSettings } from './server.ts'
import { startServer as spawnServer, type Server } from './server-process.ts'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    keys: { type: 'string', default: '10000' },
    cold: { type: 'string', default: '600' },
    requests: { type: 'string', default: '1000000' },
    databases: { type: 'string', default: 'sqlite,postgresql' },
    quick: { type: 'boolean', default: false }
  }
})
const quick = values.quick
const duration = quick ? 3 : Number(values.duration)
const connections = Number(values.connections)
const manyKeys = quick ? 500 : Number(values.keys)
const coldKeys = quick ? 150 : Number(values.cold)
const memoryRequests = quick ? 50_000 : Number(values.requests)
const FAST = { ln: 10 }

const pinned = process.env.BENCH_NO_PIN === undefined && spawnSync('taskset', ['-c', '0', 'true']).status === 0 && availableParallelism() >= 2
const pin = (core: number, args: string[]): [string, string[]] => pinned ? ['taskset', ['-c', String(core), ...args]] : [args[0], args.slice(1)]
const tsx = [process.execPath, '--import', 'tsx']

interface Load { requests: number, rps: number, p50: number, p99: number, statuses: Record<string, number>, errors: number }

async function startServer (settings: ServerSettings): Promise<Server> {
  return await spawnServer(settings, pin(0, tsx))
}

async function load (url: string, options: { connections?: number, duration?: number, amount?: number, keys?: string[], headers?: Record<string, string> } = {}): Promise<Load> {
  let keysFile: string | undefined
  if (options.keys !== undefined) {
    keysFile = join(tmpdir(), `bench-keys-${process.pid}-${Math.random().toString(36).slice(2)}.txt`)
    writeFileSync(keysFile, options.keys.join('\n'))
  }
  const settings = { url, headers: options.headers, connections: options.connections ?? connections, duration: options.amount === undefined ? (options.duration ?? duration) : undefined, amount: options.amount, keysFile }
  const [command, args] = pin(1, [...tsx, 'bench/load.ts'])
  const child = spawn(command, args, { env: { ...process.env, BENCH_LOAD: JSON.stringify(settings) }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`load generator exited with ${String(code)}`)
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Load
}

async function createKeys (db: BenchDatabase, count: number, scrypt?: { ln: number }): Promise<string[]> {
  const { prisma, close } = await openBenchDatabase(db)
  const manager = createApiKeyManager({ model: prisma.apiKey, scrypt, hashThreads: availableParallelism() })
  const keys: string[] = []
  for (let i = 0; i < count; i += 32) {
    const batch = Array.from({ length: Math.min(32, count - i) }, async (_, j) => (await manager.create({ name: `bench ${i + j}` })).key)
    keys.push(...await Promise.all(batch))
  }
  await manager.close()
  await close()
  return keys
}

const wrongSecret = (key: string): string => withChecksum(`${key.slice(0, key.indexOf('.'))}.${randomBase62(SECRET_LENGTH)}`)
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0)
const other = (l: Load): number => l.statuses['4xx'] + l.statuses['5xx'] + l.errors

// Each measured row is preceded by a short unmeasured run on the same route,
// so the server's JIT is warm and rows compare steady states.
async function measured (url: string, options: Parameters<typeof load>[1] = {}): Promise<Load> {
  await load(url, { ...options, duration: Math.min(2, duration) })
  return await load(url, options)
}

type Row = [string, string, Load, string?]
function table (rows: Row[], base: Load): void {
  console.log('| row | server | req/s | p50 ms | p99 ms | ratio to (a) | non-2xx | notes |')
  console.log('|---|---|---|---|---|---|---|---|')
  for (const [id, name, l, note] of rows) {
    console.log(`| ${id} | ${name} | ${l.rps.toFixed(0)} | ${l.p50} | ${l.p99} | ${(l.rps / base.rps).toFixed(2)} | ${other(l)} | ${note ?? ''} |`)
  }
}

async function measure (provider: 'sqlite' | 'postgresql', open: Load, bearer: Load): Promise<void> {
  console.log(`\n## ${provider}\n`)
  const rows: Row[] = [['a', 'Fastify, open route', open], ['b', '@fastify/bearer-auth, 1 key', bearer]]
  const notes: string[] = []
  const db = await createBenchDatabase(provider)
  try {
    const [one] = await createKeys(db, 1)

    let server = await startServer({ guard: 'api-key', database: db })
    await load(`${server.url}/protected`, { amount: 1, connections: 1, keys: [one] })
    rows.push(['c', 'ours, 1 key, warm', await measured(`${server.url}/protected`, { keys: [one] })])
    await server.stop()

    process.stderr.write(`creating ${manyKeys} keys...\n`)
    const many = await createKeys(db, manyKeys, FAST)
    // Row h sends wrong secrets on purpose: each prefix may cost one hash, then
    // its wrong secrets are refused at once (no throttleDelay) for the whole run.
    server = await startServer({
      guard: 'api-key', database: db, scrypt: FAST, hashThreads: availableParallelism(), throttleDelay: 0, maxFailures: 1, failureWindow: 3_600_000
    })
    process.stderr.write('warming them...\n')
    const warm = await load(`${server.url}/protected`, { amount: many.length, connections: 8, keys: many })
    rows.push(['d', `ours, ${many.length} keys round-robin, warm`, await measured(`${server.url}/protected`, { keys: many })])
    const before = await server.stats()
    const variants = Array.from({ length: manyKeys * 9 }, (_, i) => wrongSecret(many[i % many.length]))
    const distinct = [...many, ...variants]
    process.stderr.write(`${memoryRequests} requests over ${distinct.length} keys...\n`)
    const memory = await load(`${server.url}/protected`, { amount: memoryRequests, keys: distinct })
    const after = await server.stats()
    await server.stop()
    notes.push(`(d) warm-up: ${warm.requests} first checks at scrypt ln=${FAST.ln} took ${(warm.requests / warm.rps).toFixed(1)} s (${other(warm)} not 2xx)`)
    notes.push(`(h) memory: ${memory.requests} requests over ${distinct.length} distinct keys (${many.length} valid, the rest wrong secrets of their prefixes; server with maxFailures 1, throttleDelay 0): ` +
      `peak RSS ${mb(before.maxRss)} MB before, ${mb(after.maxRss)} MB after (+${mb(after.maxRss - before.maxRss)} MB); RSS now ${mb(after.rss)} MB`)

    server = await startServer({ guard: 'api-key', database: db, cacheTtl: 0 })
    await load(`${server.url}/protected`, { amount: 1, connections: 1, keys: [one] })
    rows.push(['e', 'ours, record TTL 0 (a query per request)', await measured(`${server.url}/protected`, { keys: [one] })])
    await server.stop()

    process.stderr.write(`creating ${coldKeys} keys at the default parameters...\n`)
    const cold = await createKeys(db, coldKeys)
    server = await startServer({ guard: 'api-key', database: db })
    // Warm what a restart pays once (the first Prisma query loads its query
    // compiler, the first hash starts a thread) before the loop is watched.
    await load(`${server.url}/open`, { amount: 100, connections: 1 })
    await load(`${server.url}/protected`, { amount: 1, connections: 1, keys: [one] })
    await server.reset()
    const f = await load(`${server.url}/protected`, { amount: cold.length, keys: cold })
    const fStats = await server.stats()
    const threads = DEFAULTS.hashThreads
    rows.push(['f', 'ours, cold (a new key each request)', f, `${(f.rps / threads).toFixed(1)} verifications/s per hashing core; event loop max delay ${fStats.maxDelayMs.toFixed(1)} ms; peak RSS ${mb(fStats.maxRss)} MB`])
    await server.stop()

    server = await startServer({ guard: 'api-key', database: db })
    await load(`${server.url}/protected`, { amount: 1, connections: 1, keys: [one] })
    const quiet = await measured(`${server.url}/open`, { connections: 10 })
    await server.reset()
    const flood = Array.from({ length: 5000 }, () => wrongSecret(one))
    const [flooded, attack] = await Promise.all([
      load(`${server.url}/open`, { connections: 10 }),
      load(`${server.url}/protected`, { connections, keys: flood })
    ])
    const gStats = await server.stats()
    rows.push(['g', 'open route during a flood of wrong secrets for one prefix', flooded,
      `p99 ${flooded.p99} ms vs ${quiet.p99} ms without the flood (x${(flooded.p99 / Math.max(quiet.p99, 1)).toFixed(2)}); flood: ${attack.rps.toFixed(0)} req/s, ${attack.statuses['2xx']} passed; event loop max delay ${gStats.maxDelayMs.toFixed(1)} ms`])
    await server.stop()
  } finally {
    await dropBenchDatabase(db)
  }
  table(rows, open)
  console.log()
  for (const note of notes) console.log(`- ${note}`)
}

console.log(`# npm run bench${process.argv.slice(2).length > 0 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`)
console.log(`\nNode ${process.version}, ${availableParallelism()} cores, ${pinned ? 'server pinned to core 0, load generator to core 1' : 'no pinning (taskset unavailable)'}; ` +
  `${duration} s per row, ${connections} connections, autocannon; default scrypt ln=12 unless noted`)

const plain = await startServer({ guard: 'none' })
const open = await measured(`${plain.url}/open`)
await plain.stop()
const bearerKey = 'a'.repeat(32)
const bearerServer = await startServer({ guard: 'bearer', bearerKey })
const bearer = await measured(`${bearerServer.url}/protected`, { headers: { authorization: `Bearer ${bearerKey}` } })
await bearerServer.stop()

for (const provider of values.databases.split(',') as Array<'sqlite' | 'postgresql'>) {
  if (provider === 'postgresql' && process.env.BENCH_POSTGRES_URL === undefined && process.env.TEST_POSTGRES_URL === undefined) {
    console.log('\n## postgresql\n\nskipped: set BENCH_POSTGRES_URL (or TEST_POSTGRES_URL) to a PostgreSQL server')
    continue
  }
  await measure(provider, open, bearer)
}
