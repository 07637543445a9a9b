// The change feed's rows of npm run bench: on each database, two server
// processes with the feed and the defaults (SQLite: two processes on one
// file). Instance B has `keys` keys cached; then, from the same process that
// runs the bench, `revocations` of them are revoked one at a time, half
// through instance A (its manager) and half in SQL, each after a random wait
// (so a revocation falls anywhere in B's poll interval), and B is asked for
// the key, request after request, until it refuses it. Reported: the time
// from the revoke returning to B's first refusal (p50/p99/max), and B's SQL
// statements per second while idle with every key cached. B trusts its rows
// 10 minutes (not the 60 s default) so that neither a row's expiry nor its
// renewal can answer for the feed during the run: only the feed refuses.
import { setTimeout as sleep } from 'node:timers/promises'
import { createBenchDatabase, createKeyRecords, dropBenchDatabase, rawQuery, type BenchProvider } from './database.ts'
import type { Server } from './server-process.ts'
import type { ServerSettings } from './server.ts'

export interface FeedRow { provider: BenchProvider, revocations: number, p50: number, p99: number, max: number, idleQueriesPerSecond: number, keys: number }

const percentile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]

async function status (url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/protected`, { headers: { authorization: `Api-Key ${key}` } })
  await res.arrayBuffer()
  return res.status
}

export async function measureFeed (provider: BenchProvider, serve: (settings: ServerSettings) => Promise<Server>,
  options: { keys: number, revocations: number, idleSeconds: number }): Promise<FeedRow> {
  const db = await createBenchDatabase(provider)
  try {
    const made = await createKeyRecords(db, options.keys, { ln: 10 })
    const settings: ServerSettings = { guard: 'api-key', database: db, scrypt: { ln: 10 }, changeFeed: true, countQueries: true }
    const a = await serve(settings)
    const b = await serve({ ...settings, cacheTtl: 10 * 60 * 1000 })
    // Every key cached on B: its first checks, 50 at a time.
    for (let i = 0; i < made.length; i += 50) {
      const statuses = await Promise.all(made.slice(i, i + 50).map(async ({ key }) => await status(b.url, key)))
      if (statuses.some((s) => s !== 200)) throw new Error(`warming B: ${statuses.join(',')}`)
    }
    await sleep(2000)
    const before = (await b.stats()).queries
    await sleep(options.idleSeconds * 1000)
    const idle = ((await b.stats()).queries - before) / options.idleSeconds
    const table = provider === 'mysql' ? '`ApiKey`' : '"ApiKey"'
    const waits: number[] = []
    for (let i = 0; i < options.revocations; i++) {
      const { id, key } = made[i]
      await sleep(Math.random() * 1000)
      if (i % 2 === 0) {
        const res = await fetch(`${a.url}/__revoke/${id}`, { method: 'POST' })
        if (res.status !== 200) throw new Error(`revoke through A: ${res.status}`)
        await res.arrayBuffer()
      } else {
        await rawQuery(db, `UPDATE ${table} SET revoked = true WHERE id = '${id}'`)
      }
      const revoked = performance.now()
      for (let answer = 200; answer !== 401; answer = await status(b.url, key)) {
        if (answer !== 200) throw new Error(`instance B answered ${answer}`)
      }
      waits.push(performance.now() - revoked)
    }
    const sorted = waits.sort((x, y) => x - y)
    return { provider, revocations: waits.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1], idleQueriesPerSecond: idle, keys: made.length }
  } finally {
    await dropBenchDatabase(db)
  }
}
