// The burst client of npm run bench, in its own process: BENCH_BURST holds
// { url, keysFile, connections }. Sends every key until it gets a 200 (a 503
// is retried after its Retry-After), while a probe times GET /open one
// request at a time; first the probe alone for a quiet baseline. Prints JSON.
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

interface BurstSettings { url: string, keysFile: string, connections: number, quietMs: number }
const settings = JSON.parse(process.env.BENCH_BURST as string) as BurstSettings
const keys = readFileSync(settings.keysFile, 'utf8').split('\n').filter(Boolean)

const percentile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
function summary (samples: number[]): { p50: number, p99: number, max: number, count: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? 0, count: sorted.length }
}

async function probe (until: () => boolean): Promise<number[]> {
  const samples: number[] = []
  while (!until()) {
    const started = performance.now()
    await (await fetch(`${settings.url}/open`)).arrayBuffer()
    samples.push(performance.now() - started)
    await sleep(5)
  }
  return samples
}

const quietUntil = Date.now() + settings.quietMs
const quiet = await probe(() => Date.now() >= quietUntil)

let next = 0
let done = false
const statuses: Record<string, number> = {}
const started = performance.now()
const probing = probe(() => done)
await Promise.all(Array.from({ length: settings.connections }, async () => {
  while (next < keys.length) {
    const key = keys[next++]
    for (;;) {
      const res = await fetch(`${settings.url}/protected`, { headers: { authorization: `Api-Key ${key}` } })
      await res.arrayBuffer()
      statuses[res.status] = (statuses[res.status] ?? 0) + 1
      if (res.status !== 503) break
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000)
    }
  }
}))
const seconds = (performance.now() - started) / 1000
done = true
const during = await probing
console.log(JSON.stringify({ keys: keys.length, seconds, statuses, quiet: summary(quiet), during: summary(during) }))
