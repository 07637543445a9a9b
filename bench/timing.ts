// Timing: does an unknown prefix cost the caller the same as a known prefix
// with a wrong secret, idle and behind a backlog of hashes? Real HTTP against
// a listening server with the default scrypt cost and hashing threads; the two
// kinds of request are sent one at a time, in random order, and their latency
// distributions are compared. The loaded phase keeps --backlog other checks
// (wrong secrets of other keys, each a real hash) in flight the whole time, so
// every probe waits in the hashing line.
//
//   npm run bench:timing                # SQLite, 400 requests of each kind, idle then loaded
//   npm run bench:timing -- --postgres  # PostgreSQL (BENCH_POSTGRES_URL or TEST_POSTGRES_URL)
//   npm run bench:timing -- --rounds 1000 --backlog 4
import Fastify from 'fastify'
import apiKeyPlugin from '../src/index.ts'
import { unknownKey, wrongSecret } from '../test/helpers/keys.ts'
import { createBenchDatabase, dropBenchDatabase, openBenchDatabase } from './database.ts'

const args = process.argv.slice(2)
const option = (name: string, fallback: number): number => args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback
const rounds = option('--rounds', 400)
const backlog = option('--backlog', 4)
const provider = args.includes('--postgres') ? 'postgresql' : 'sqlite'

const database = await createBenchDatabase(provider)
const { prisma, close } = await openBenchDatabase(database)
const app = Fastify()
// No throttle: every attempt must reach the check being measured.
await app.register(apiKeyPlugin, { model: prisma.apiKey, maxFailures: 1_000_000, throttleDelay: 0 })
app.get('/protected', { config: { apiKey: true } }, async () => 'ok')
const base = await app.listen({ port: 0, host: '127.0.0.1' })
const { key } = await app.apiKeys.create({ name: 'timing' })
const { key: busyKey } = await app.apiKeys.create({ name: 'backlog' })

async function timed (presented: string): Promise<{ ms: number, code: string }> {
  const started = performance.now()
  const res = await fetch(`${base}/protected`, { headers: { authorization: `Api-Key ${presented}` } })
  const body = await res.json() as { code: string }
  return { ms: performance.now() - started, code: `${res.status} ${body.code}` }
}

const kinds = {
  'unknown prefix': () => unknownKey(),
  'known prefix, wrong secret': () => wrongSecret(key)
}
type Kind = keyof typeof kinds
type Samples = Record<Kind, number[]>

async function measure (): Promise<{ samples: Samples, codes: Record<Kind, Set<string>> }> {
  const samples: Samples = { 'unknown prefix': [], 'known prefix, wrong secret': [] }
  const codes: Record<Kind, Set<string>> = { 'unknown prefix': new Set(), 'known prefix, wrong secret': new Set() }
  const order: Kind[] = Array.from({ length: rounds }, () => Object.keys(kinds) as Kind[]).flat()
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]]
  }
  for (const kind of order) {
    const { ms, code } = await timed(kinds[kind]())
    samples[kind].push(ms)
    codes[kind].add(code)
  }
  return { samples, codes }
}

// Warm-up: threads started, first queries done, the hasher's timing samples filled.
for (let i = 0; i < 30; i++) for (const make of Object.values(kinds)) await timed(make())
const idle = await measure()
const state = { loading: true }
let background = 0
const load = Array.from({ length: backlog }, async () => {
  while (state.loading) {
    await timed(wrongSecret(busyKey))
    background++
  }
})
const loaded = await measure()
state.loading = false
await Promise.all(load)

await app.close()
await close()
await dropBenchDatabase(database)

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const fmt = (ms: number): string => ms.toFixed(2).padStart(8)

// Kolmogorov-Smirnov: the largest gap between the two empirical distributions.
function ksDistance (a: number[], b: number[]): number {
  let i = 0
  let j = 0
  let d = 0
  while (i < a.length && j < b.length) {
    if (a[i] <= b[j]) i++
    else j++
    d = Math.max(d, Math.abs(i / a.length - j / b.length))
  }
  return d
}

function report (title: string, { samples, codes }: { samples: Samples, codes: Record<Kind, Set<string>> }): void {
  console.log(`\n${provider}, ${title}: default scrypt, ${rounds} requests of each kind, one at a time, random order (ms)\n`)
  console.log(`${'kind'.padEnd(28)}${'p10'.padStart(8)}${'median'.padStart(8)}${'mean'.padStart(8)}${'p90'.padStart(8)}${'p99'.padStart(8)}  answers`)
  const stats: Record<string, { median: number, mean: number }> = {}
  for (const kind of Object.keys(kinds) as Kind[]) {
    const sorted = [...samples[kind]].sort((a, b) => a - b)
    const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length
    stats[kind] = { median: quantile(sorted, 0.5), mean }
    console.log(`${kind.padEnd(28)}${fmt(quantile(sorted, 0.1))}${fmt(stats[kind].median)}${fmt(mean)}${fmt(quantile(sorted, 0.9))}${fmt(quantile(sorted, 0.99))}  ${[...codes[kind]].join(', ')}`)
  }
  const [unknown, wrong] = [stats['unknown prefix'], stats['known prefix, wrong secret']]
  const a = [...samples['unknown prefix']].sort((x, y) => x - y)
  const b = [...samples['known prefix, wrong secret']].sort((x, y) => x - y)
  const d = ksDistance(a, b)
  // Two-sample KS critical value at alpha = 0.05.
  const critical = 1.358 * Math.sqrt((a.length + b.length) / (a.length * b.length))
  console.log(`\nmedian unknown / known: ${(unknown.median / wrong.median).toFixed(3)}   difference ${(unknown.median - wrong.median).toFixed(2)} ms`)
  console.log(`mean unknown / known:   ${(unknown.mean / wrong.mean).toFixed(3)}   difference ${(unknown.mean - wrong.mean).toFixed(2)} ms`)
  console.log(`KS distance ${d.toFixed(3)} (the distributions differ at the 5% level above ${critical.toFixed(3)})`)
}

report('idle', idle)
report(`behind a backlog of ${backlog} checks in flight (${background} background checks answered)`, loaded)
