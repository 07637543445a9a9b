// One benchmark server, started by bench/run.ts in its own process. Its
// settings come as JSON in BENCH_SERVER; it prints its port, then serves
// GET /open, GET /protected (guarded as the scenario says) and GET /__stats.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import bearerAuth from '@fastify/bearer-auth'
import Fastify from 'fastify'
import pg from 'pg'
// The built package, as an app runs it: a server on the sources under tsx
// would also measure tsx's helpers (a __name call per function made per request).
import apiKeyPlugin from '../dist/index.js'
import { openBenchDatabase, type BenchDatabase } from './database.ts'

export interface ServerSettings {
  guard: 'none' | 'bearer' | 'api-key'
  database?: BenchDatabase
  bearerKey?: string
  cacheTtl?: number
  scrypt?: { ln: number }
  hashThreads?: number
  throttleDelay?: number
  maxFailures?: number
  failureWindow?: number
  /** the change feed: the log polled (SQLite, MySQL) or LISTEN (PostgreSQL) */
  changeFeed?: boolean
  /** count Prisma's SQL statements (for /__stats) */
  countQueries?: boolean
  pepper?: string
  /** suspension, ipAllowlist, credits and the usage history on (#14's warm-path cost) */
  features?: boolean
}

const settings = JSON.parse(process.env.BENCH_SERVER ?? '{}') as ServerSettings
const app = Fastify()
const delay = monitorEventLoopDelay({ resolution: 1 })
delay.enable()

if (settings.guard === 'bearer') {
  await app.register(async (scope) => {
    await scope.register(bearerAuth, { keys: new Set([settings.bearerKey as string]), addHook: true })
    scope.get('/protected', async () => ({ hello: 'world' }))
  })
}
let close = async (): Promise<void> => {}
let queries = 0
if (settings.guard === 'api-key') {
  const database = settings.database as BenchDatabase
  const db = await openBenchDatabase(database, settings.countQueries === true ? () => { queries++ } : undefined)
  close = db.close
  const changeFeed = settings.changeFeed !== true
    ? undefined
    : database.provider === 'postgresql'
      ? { listen: () => new pg.Client({ connectionString: database.url }) }
      : { model: db.prisma.apiKeyChange }
  await app.register(apiKeyPlugin, {
    model: db.prisma.apiKey,
    changeFeed,
    cacheTtl: settings.cacheTtl,
    scrypt: settings.scrypt,
    hashThreads: settings.hashThreads,
    throttleDelay: settings.throttleDelay,
    maxFailures: settings.maxFailures,
    failureWindow: settings.failureWindow,
    pepper: settings.pepper,
    ...(settings.features === true ? { suspension: true, ipAllowlist: true, credits: true, usage: { model: db.prisma.apiKeyUsage } } : {})
  })
  app.get('/protected', { config: { apiKey: true } }, async () => ({ hello: 'world' }))
  app.post<{ Params: { id: string } }>('/__revoke/:id', async (request) => await app.apiKeys.revoke(request.params.id))
}
app.get('/open', async () => ({ hello: 'world' }))
app.get('/__stats', async () => {
  const handles: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) handles[type] = (handles[type] ?? 0) + 1
  return {
    maxDelayMs: delay.max / 1e6,
    rss: process.memoryUsage.rss(),
    maxRss: process.resourceUsage().maxRSS * 1024,
    heapUsed: process.memoryUsage().heapUsed,
    queries,
    handles
  }
})
app.post('/__reset', async () => {
  delay.reset()
  return { ok: true }
})
app.addHook('onClose', async () => await close())

const address = await app.listen({ port: 0, host: '127.0.0.1' })
console.log(`listening ${address}`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
