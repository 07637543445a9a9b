// The load generator, in its own process: autocannon against one URL, with
// the Authorization header taken in turn from a list of keys when one is
// given. Settings come as JSON in BENCH_LOAD; the result is printed as JSON.
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'

interface LoadSettings {
  url: string
  connections: number
  duration?: number
  amount?: number
  keysFile?: string
  headers?: Record<string, string>
}

const settings = JSON.parse(process.env.BENCH_LOAD as string) as LoadSettings
const keys = settings.keysFile === undefined ? [] : readFileSync(settings.keysFile, 'utf8').split('\n').filter(Boolean)
let next = 0

const result = await autocannon({
  url: settings.url,
  connections: settings.connections,
  // autocannon refuses a key set to undefined: give exactly one of them.
  ...(settings.amount === undefined ? { duration: settings.duration } : { amount: settings.amount }),
  headers: settings.headers,
  requests: [{
    setupRequest: (request: any) => {
      if (keys.length > 0) request.headers = { ...request.headers, authorization: `Api-Key ${keys[next++ % keys.length]}` }
      return request
    }
  }]
})

const seconds = (result.finish.getTime() - result.start.getTime()) / 1000
console.log(JSON.stringify({
  requests: result.requests.total,
  rps: result.requests.total / seconds,
  p50: result.latency.p50,
  p99: result.latency.p99,
  statuses: { '2xx': result['2xx'], '4xx': result['4xx'], '5xx': result['5xx'] },
  errors: result.errors + result.timeouts
}))
