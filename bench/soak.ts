// Soak: a server in its own process under a steady mix of valid, revoked,
// wrong, unknown and malformed keys for a bounded time on 127.0.0.1, with
// keys revoked while it runs. It prints what it saw and exits 1 when a rule
// is broken: any 5xx or connection error, a revoked key that still passes
// after cacheTtl, memory that keeps growing, handles left behind.
//
//   npm run soak                       # 180 s on SQLite
//   npm run soak -- --seconds 60 --postgres
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { createApiKeyManager } from '../src/index.ts'
import { DEFAULTS } from '../src/options.ts'
import { unknownKey, wrongSecret } from '../test/helpers/keys.ts'
import { createBenchDatabase, dropBenchDatabase, openBenchDatabase } from './database.ts'
import { startServer } from './server-process.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '180' }, postgres: { type: 'boolean', default: false }, connections: { type: 'string', default: '20' } } })
const seconds = Number(values.seconds)
const connections = Number(values.connections)
const SAMPLE_EVERY = 10
const VALID = 200
const REVOKED = 20
const REVOKE_DURING = 10

const database = await createBenchDatabase(values.postgres ? 'postgresql' : 'sqlite')
const { prisma, close } = await openBenchDatabase(database)
const manager = createApiKeyManager({ model: prisma.apiKey, hashThreads: availableParallelism() })
const valid = await Promise.all(Array.from({ length: VALID }, async (_, i) => await manager.create({ name: `soak ${i}` })))
const revoked = await Promise.all(Array.from({ length: REVOKED }, async (_, i) => await manager.create({ name: `revoked ${i}` })))
for (const { apiKey } of revoked) await manager.revoke(apiKey.id)

// The server runs with the library's defaults.
const server = await startServer({ guard: 'api-key', database }, [process.execPath, ['--import', 'tsx']])

// The mix, in per-mille: mostly valid keys, as in production, and every kind of refusal.
type Kind = 'valid' | 'revoked' | 'wrong secret' | 'unknown' | 'malformed' | 'none'
const MIX: Array<[Kind, number]> = [['valid', 700], ['revoked', 100], ['wrong secret', 80], ['unknown', 60], ['malformed', 40], ['none', 20]]
const revokedDuring = new Map<string, number>() // key -> when revoke() returned
let pick = 0
function nextRequest (): { kind: Kind, header?: string } {
  let n = (pick++ * 7919) % 1000
  for (const [kind, share] of MIX) {
    if (n < share) {
      switch (kind) {
        case 'valid': return { kind, header: valid[pick % valid.length].key }
        case 'revoked': return { kind, header: revoked[pick % revoked.length].key }
        case 'wrong secret': return { kind, header: wrongSecret(valid[pick % valid.length].key) }
        case 'unknown': return { kind, header: unknownKey() }
        case 'malformed': return { kind, header: `${valid[pick % valid.length].key}x` }
        case 'none': return { kind }
      }
    }
    n -= share
  }
  throw new Error('the mix adds up to 1000')
}

const counts: Record<string, number> = {}
const count = (label: string): void => { counts[label] = (counts[label] ?? 0) + 1 }
let passedAfterRevoke = 0
const samples: Array<{ at: number, rss: number, heapUsed: number, handles: number, sockets: number, maxDelayMs: number }> = []
const sample = async (at: number): Promise<void> => {
  const stats = await server.stats()
  await server.reset()
  // Timers and worker ports come and go with the caches and hashing threads;
  // sockets must all be gone once the load stops.
  samples.push({ at, rss: stats.rss, heapUsed: stats.heapUsed, handles: Object.values(stats.handles).reduce((a, b) => a + b, 0), sockets: stats.handles.TCPSocketWrap ?? 0, maxDelayMs: stats.maxDelayMs })
}

await sample(0)
const socketsIdle = samples[0].sockets
const started = Date.now()
const timer = setInterval(() => { sample(Math.round((Date.now() - started) / 1000)).catch(() => {}) }, SAMPLE_EVERY * 1000)
// Revocations while the load runs, spread over the first half.
const revoker = (async () => {
  for (let i = 0; i < REVOKE_DURING; i++) {
    await new Promise((resolve) => setTimeout(resolve, (seconds * 500) / REVOKE_DURING))
    const { apiKey, key } = valid[i]
    await manager.revoke(apiKey.id)
    revokedDuring.set(key, Date.now())
  }
})()

// One request at a time per connection: the connection's context says what it sent.
const result = await autocannon({
  url: `${server.url}/protected`,
  connections,
  duration: seconds,
  requests: [{
    setupRequest: (request: any, context: any) => {
      const { kind, header } = nextRequest()
      context.kind = kind
      request.headers = header === undefined ? {} : { authorization: `Api-Key ${header}` }
      return request
    },
    onResponse: (status: number, _body: string, context: any) => count(`${String(context.kind)} ${status}`)
  }]
})
clearInterval(timer)
await revoker

// After the load: the keys revoked during it are refused (other instances
// may take cacheTtl; this one is another process, so it does).
await new Promise((resolve) => setTimeout(resolve, DEFAULTS.cacheTtl + 500))
for (const key of revokedDuring.keys()) {
  const res = await fetch(`${server.url}/protected`, { headers: { authorization: `Api-Key ${key}`, connection: 'close' } })
  if (res.status === 200) passedAfterRevoke++
}
await new Promise((resolve) => setTimeout(resolve, 1000))
await sample(Math.round((Date.now() - started) / 1000))
const socketsAfter = samples.at(-1)?.sockets ?? 0
const stopStarted = Date.now()
await server.stop()
const stopMs = Date.now() - stopStarted
await manager.close()
await close()
await dropBenchDatabase(database)

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)
console.log(`\nsoak: ${seconds} s, ${connections} connections, ${database.provider}, defaults\n`)
console.log('   s   rss MB  heap MB  handles  sockets  max loop delay ms')
for (const s of samples) console.log(`${String(s.at).padStart(4)}  ${mb(s.rss).padStart(7)}  ${mb(s.heapUsed).padStart(7)}  ${String(s.handles).padStart(7)}  ${String(s.sockets).padStart(7)}  ${s.maxDelayMs.toFixed(1).padStart(17)}`)

const errors = result.errors + result.timeouts
const fiveXX = Object.entries(counts).filter(([label]) => / 5\d\d$/.test(label)).reduce((sum, [, n]) => sum + n, 0)
// Memory: the heap over the last third against the third after warm-up.
const loaded = samples.slice(1, -1)
const third = Math.max(1, Math.floor(loaded.length / 3))
const avg = (xs: typeof loaded): number => xs.reduce((sum, s) => sum + s.heapUsed, 0) / xs.length
const growth = loaded.length >= 3 ? avg(loaded.slice(-third)) / avg(loaded.slice(0, third)) : 1
console.log(`\nrequests ${result.requests.total} (${Math.round(result.requests.average)}/s), p99 ${result.latency.p99} ms; by kind and status:`)
for (const label of Object.keys(counts).sort()) console.log(`  ${label.padEnd(20)} ${counts[label]}`)
console.log(`  ("valid 401": the ${REVOKE_DURING} valid keys revoked during the run)`)
console.log(`5xx ${fiveXX}, connection errors and timeouts ${errors}`)
console.log(`keys revoked during the run: ${revokedDuring.size}, still passing after cacheTtl: ${passedAfterRevoke}`)
console.log(`heap, last third / first third of the run: ${growth.toFixed(2)}`)
console.log(`open sockets idle before ${socketsIdle}, idle after ${socketsAfter}; server stopped in ${stopMs} ms`)

const broken = [
  fiveXX > 0 && `${fiveXX} responses were 5xx`,
  errors > 0 && `${errors} connection errors or timeouts`,
  passedAfterRevoke > 0 && `${passedAfterRevoke} revoked keys still passed`,
  growth > 1.25 && `the heap grew by ${((growth - 1) * 100).toFixed(0)}%`,
  socketsAfter > socketsIdle && `${socketsAfter - socketsIdle} sockets left open`,
  stopMs > 5000 && `the server took ${stopMs} ms to stop`
].filter(Boolean)
console.log(broken.length === 0 ? '\nheld: no 5xx, nothing lost, memory flat, no handles left' : `\nBROKEN: ${broken.join('; ')}`)
process.exitCode = broken.length === 0 ? 0 : 1
