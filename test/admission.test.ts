// Every hash on the request path takes a turn in the same line: checks of
// real prefixes and the stand-ins of made-up ones are admitted alike (running
// plus waiting within hashThreads + hashQueue), and a made-up prefix waits
// behind a backlog exactly where a real check would.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createApiKeyManager } from '../src/index.ts'
import { auth, buildApp, testManager } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'
import { unknownKey, wrongSecret } from './helpers/keys.ts'

eachDatabase(t, async (t, db) => {
  t.test('made-up prefixes are admitted like checks: past hashThreads + hashQueue they get 503 BUSY, from the very first', async (t) => {
    const m = createApiKeyManager({ model: db.prisma.apiKey, scrypt: { ln: 12 }, hashThreads: 1, hashQueue: 0 })
    t.teardown(() => m.close())
    const order: string[] = []
    const flood = Array.from({ length: 50 }, async () => {
      try {
        const result = await m.verify(unknownKey())
        order.push(result.valid ? 'valid' : result.reason)
      } catch (err) {
        order.push((err as { code: string }).code)
      }
    })
    await Promise.all(flood)
    const unknown = order.filter((o) => o === 'unknown').length
    const busy = order.filter((o) => o === 'FST_API_KEY_BUSY').length
    t.equal(unknown + busy, 50, 'each made-up prefix was refused or found the line full')
    t.ok(busy > 0, `the line was full for some: ${busy} BUSY, ${unknown} unknown`)
  })

  t.test('a made-up prefix waits behind a backlog where a real check would', async (t) => {
    const m = testManager(db.prisma.apiKey, { maxFailures: 1000 })
    const slow = createApiKeyManager({ model: db.prisma.apiKey, scrypt: { ln: 16 }, hashThreads: 1 })
    t.teardown(async () => { await m.close(); await slow.close() })
    const { key } = await m.create({ name: 'timed' })
    // Enough refusals for the stand-ins to have measured what a check costs.
    for (let i = 0; i < 10; i++) {
      await m.verify(wrongSecret(key))
      await m.verify(unknownKey())
    }
    const { key: costly } = await slow.create({ name: 'costly' })
    const done: string[] = []
    const backlog = m.verify(costly).then(() => done.push('costly check'))
    await sleep(20)
    const made = m.verify(unknownKey()).then(() => done.push('made-up prefix'))
    await Promise.all([backlog, made])
    t.same(done, ['costly check', 'made-up prefix'], 'the made-up prefix took its turn after the hash ahead of it')
  })

  t.test('a full hash queue gives a fast 503 with Retry-After, never a 500', async (t) => {
    const app = await buildApp(db, { hashQueue: 0, scrypt: { ln: 14 } })
    t.teardown(() => app.close())
    const keys: string[] = []
    for (let i = 0; i < 6; i++) keys.push((await app.apiKeys.create({ name: `queued ${i}` })).key)
    const responses = await Promise.all(keys.map(async (key) => await app.inject({ url: '/protected', headers: auth(key) })))
    const statuses = responses.map((r) => r.statusCode).sort()
    t.ok(statuses.includes(200), `some pass: ${statuses}`)
    const busy = responses.filter((r) => r.statusCode === 503)
    t.ok(busy.length > 0, 'some are refused')
    t.ok(statuses.every((s) => s === 200 || s === 503))
    for (const r of busy) {
      t.equal(r.json().code, 'FST_API_KEY_BUSY')
      t.equal(r.headers['retry-after'], '1')
    }
  })
})
