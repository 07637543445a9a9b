// Credits (`credits: true`): a key may carry a number of calls left and a
// refill policy; a route says what a call costs. Each instance reserves
// blocks of credits with a conditional update that never goes below zero,
// spends them from memory, and gives back what it did not spend on close().
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin, { createApiKeyManager } from '../src/index.ts'
import { CreditLedger } from '../src/credits.ts'
import { auth, FAST_SCRYPT, testManager } from './helpers/app.ts'
import { eachDatabase, type TestDatabase } from './helpers/databases.ts'
import { counted, withMethods } from './helpers/models.ts'

async function creditApp (db: TestDatabase, model = db.prisma.apiKey as any) {
  const app = Fastify()
  await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT, hashThreads: 1, credits: true })
  app.get('/search', { config: { apiKey: true } }, async (request) => ({ left: app.apiKeys.balance(request.apiKey!) }))
  app.post('/report', { config: { apiKey: { cost: 5 } } }, async () => ({ ok: true }))
  app.get('/status', { config: { apiKey: { cost: 0 } } }, async () => ({ ok: true }))
  app.get('/admin', { config: { apiKey: { scopes: ['admin'] } } }, async () => ({ ok: true }))
  await app.ready()
  return app
}

eachDatabase(t, async (t, db) => {
  const stored = async (id: string): Promise<number | null> => (await db.prisma.apiKey.findUnique({ where: { id } }))!.credits

  t.test('the guide\'s example', async (t) => {
    const { prisma } = db
    // docs/usage.md: credits
    const manager = createApiKeyManager({ model: prisma.apiKey, credits: true })
    const { apiKey, key } = await manager.create({ name: 'trial: Hooli', credits: 1000, creditRefill: 'month:1:1000' })
    const result = await manager.verify(key)
    const payment = result.valid ? await manager.spend(result.apiKey, 5) : null // { paid: true }
    const left = result.valid ? manager.balance(result.apiKey) : null // 995
    await manager.close()
    t.same(payment, { paid: true })
    t.equal(left, 995)
    t.equal((await prisma.apiKey.findUnique({ where: { id: apiKey.id } }))!.credits, 995, 'what was reserved and not spent went back at close')
  })

  t.test('a call costs the route\'s cost; one that cannot pay gets 429', async (t) => {
    const app = await creditApp(db)
    t.teardown(() => app.close())
    const { apiKey, key } = await app.apiKeys.create({ name: 'metered', credits: 7 })
    t.equal(apiKey.credits, 7)
    t.equal(apiKey.creditRefill, null)
    t.type(apiKey.creditsRefilledAt, Date)
    const call = async (method: 'GET' | 'POST', url: string) => await app.inject({ method, url, headers: auth(key) })
    t.equal((await call('POST', '/report')).statusCode, 200, '5 paid')
    t.equal((await call('GET', '/search')).json().left, 1, 'the handler reads the balance')
    t.equal((await call('GET', '/status')).statusCode, 200, 'a free route costs nothing')
    const short = await call('POST', '/report')
    t.equal(short.statusCode, 429, '1 left, 5 asked')
    t.same(short.json(), { statusCode: 429, code: 'FST_API_KEY_USAGE_EXCEEDED', error: 'Too Many Requests', message: 'API key has used up its credits' })
    t.equal(short.headers['retry-after'], undefined, 'no refill, no Retry-After')
    t.equal(short.headers['www-authenticate'], undefined, 'the key proved itself')
    t.equal((await call('GET', '/search')).statusCode, 200, 'the last credit pays a cheaper call')
    t.equal((await call('GET', '/search')).statusCode, 429)
    t.equal((await call('GET', '/status')).statusCode, 200, 'free even when spent')
    t.equal((await call('GET', '/admin')).statusCode, 403, 'a call refused for its scopes is refused as such')
    t.equal(await stored(apiKey.id), 0)

    const unlimited = await app.apiKeys.create({ name: 'unlimited' })
    t.equal(unlimited.apiKey.credits, null)
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/search', headers: auth(unlimited.key) })).json().left, null)
  })

  t.test('a refusal of another kind spends nothing', async (t) => {
    const app = await creditApp(db)
    t.teardown(() => app.close())
    const { apiKey, key } = await app.apiKeys.create({ name: 'scoped', credits: 3 })
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/admin', headers: auth(key) })).statusCode, 403)
    await app.apiKeys.flush()
    await app.close()
    t.equal(await stored(apiKey.id), 3)
  })

  t.test('setting credits: at once here, voiding what was reserved', async (t) => {
    const app = await creditApp(db)
    t.teardown(() => app.close())
    const { apiKey, key } = await app.apiKeys.create({ name: 'topped up', credits: 1 })
    const call = async () => (await app.inject({ url: '/search', headers: auth(key) })).statusCode
    t.equal(await call(), 200)
    t.equal(await call(), 429)
    const updated = await app.apiKeys.update(apiKey.id, { credits: 2, creditRefill: 'day:2' })
    t.equal(updated.creditRefill, 'day:2')
    t.same([await call(), await call(), await call()], [200, 200, 429])
    const res = await app.inject({ url: '/search', headers: auth(key) })
    const midnight = Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000
    t.ok(Math.abs(Number(res.headers['retry-after']) - (midnight - Date.now()) / 1000) < 5, 'Retry-After: seconds to the next refill')
    await app.apiKeys.update(apiKey.id, { credits: null })
    t.equal(await call(), 200, 'null is unlimited')
  })

  t.test('a refill due is applied by the next reservation, once', async (t) => {
    const manager = testManager(db.prisma.apiKey, { credits: true })
    const other = testManager(db.prisma.apiKey, { credits: true })
    t.teardown(async () => { await manager.close(); await other.close() })
    const { apiKey, key } = await manager.create({ name: 'daily', credits: 2, creditRefill: 'day:10' })
    const record = (await manager.verify(key) as { apiKey: typeof apiKey }).apiKey
    t.same([await manager.spend(record, 2), (await manager.spend(record)).paid], [{ paid: true }, false])
    // The clock, moved: the last refill was yesterday.
    const yesterday = new Date(Date.now() - 86_400_000)
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { creditsRefilledAt: yesterday } })
    await new Promise((resolve) => setTimeout(resolve, 1_100)) // past the refusal remembered
    t.same(await Promise.all([manager.spend(record), other.spend(record)]), [{ paid: true }, { paid: true }], 'both instances see the refill')
    const row = await db.prisma.apiKey.findUnique({ where: { id: apiKey.id } })
    t.equal(row!.creditsRefilledAt!.getTime(), Math.floor(Date.now() / 86_400_000) * 86_400_000, 'the refill counts from midnight')
    t.ok(row!.credits! >= 6 && row!.credits! <= 8, `refilled to 10 once (not twice), less what the two reserved: ${row!.credits}`)

    const adds = await manager.create({ name: 'adds', credits: 1, creditRefill: 'every:3600:5:add' })
    await db.prisma.apiKey.update({ where: { id: adds.apiKey.id }, data: { creditsRefilledAt: new Date(Date.now() - 2.5 * 3_600_000) } })
    t.same(await manager.spend(adds.apiKey, 11), { paid: true }, '1 + 2 refills of 5')
    t.equal(await stored(adds.apiKey.id), 0)
  })

  t.test('never below zero, whatever the cost', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const manager = testManager(model, { credits: true })
    t.teardown(() => manager.close())
    const { apiKey } = await manager.create({ name: 'busy', credits: 500 })
    const payments = await Promise.all(Array.from({ length: 600 }, async () => await manager.spend(apiKey)))
    t.equal(payments.filter((p) => p.paid).length, 500, 'exactly the credits the key had')
    t.equal(await stored(apiKey.id), 0)
    t.ok(calls.updateMany < 60, `blocks, not a write per call (${calls.updateMany} writes for 600 calls)`)
    await t.rejects(manager.spend(apiKey, -1), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /cost: expected an integer from 0/ })
    await t.rejects(manager.spend({ nope: 1 } as any), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /apiKey/ })
  })

  t.test('an outage is a 503, and loses no credit', async (t) => {
    let down = false
    const real = db.prisma.apiKey as any
    const model = withMethods(real, {
      findUnique: async (args) => { if (down && args.select?.credits === true) throw new Error('connection lost'); return await real.findUnique(args) }
    })
    const app = await creditApp(db, model)
    t.teardown(() => app.close())
    const { apiKey, key } = await app.apiKeys.create({ name: 'outage', credits: 3 })
    t.equal((await app.inject({ url: '/search', headers: auth(key) })).statusCode, 200)
    down = true
    const res = await app.inject({ method: 'POST', url: '/report', headers: auth(key) })
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_API_KEY_UNAVAILABLE')
    t.equal(res.headers['retry-after'], '1')
    down = false
    await app.close()
    t.equal(await stored(apiKey.id), 2, 'one spent, the rest is in the database')
  })

  t.test('failing writes: a reservation, a refill, a return; a deleted key; a race that never settles', async (t) => {
    const real = db.prisma.apiKey as any
    let failing: 'take' | 'refill' | 'return' | 'lose' | null = null
    const model = withMethods(real, {
      updateMany: async (args) => {
        const { credits } = args.data
        if (failing === 'take' && credits?.decrement !== undefined) throw new Error('connection lost')
        if (failing === 'refill' && 'creditsRefilledAt' in args.data) throw new Error('connection lost')
        if (failing === 'return' && credits?.increment !== undefined) throw new Error('connection lost')
        // Another instance always took the credits first.
        if (failing === 'lose' && credits?.decrement !== undefined) return { count: 0 }
        return await real.updateMany(args)
      }
    })
    const manager = testManager(model, { credits: true })
    const { apiKey } = await manager.create({ name: 'faulty', credits: 10, creditRefill: 'day:10' })
    failing = 'take'
    await t.rejects(manager.spend(apiKey), { code: 'FST_API_KEY_UNAVAILABLE' }, 'a reservation that fails')
    t.equal(manager.balance(apiKey), 10, 'nothing reserved: the record\'s balance')
    failing = 'lose'
    await t.rejects(manager.spend(apiKey), { code: 'FST_API_KEY_UNAVAILABLE', cause: { message: /kept changing during 10 reservations/ } })
    failing = 'refill'
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { creditsRefilledAt: new Date(Date.now() - 86_400_000) } })
    await t.rejects(manager.spend(apiKey), { code: 'FST_API_KEY_UNAVAILABLE' }, 'a refill that fails')
    failing = null
    t.same(await manager.spend(apiKey), { paid: true })
    t.same(await manager.spend(apiKey), { paid: true }, 'a second block, larger: some of it is left')
    t.same(await manager.spend({ ...apiKey, id: 'deleted-meanwhile' }), { paid: false, retryAfter: null }, 'a key that is gone pays nothing')
    const freed = await manager.create({ name: 'freed in SQL', credits: 1 })
    await db.prisma.apiKey.update({ where: { id: freed.apiKey.id }, data: { credits: null } })
    t.same([await manager.spend(freed.apiKey), manager.spendCached(freed.apiKey, 1)], [{ paid: true }, { paid: true }], 'the database says unlimited: paid, for a while from memory')
    failing = 'return'
    await t.rejects(manager.close(), { code: 'FST_API_KEY_UNAVAILABLE' }, 'close reports a return that failed')
  })

  t.test('the balance after close: unspent credits go back, unless a refill replaced them', async (t) => {
    const manager = testManager(db.prisma.apiKey, { credits: true })
    const { apiKey } = await manager.create({ name: 'returned', credits: 100 })
    for (let i = 0; i < 20; i++) await manager.spend(apiKey)
    t.ok(await stored(apiKey.id) as number < 80, 'more was reserved than spent')
    await manager.close()
    t.equal(await stored(apiKey.id), 80)

    const again = testManager(db.prisma.apiKey, { credits: true })
    for (let i = 0; i < 20; i++) await again.spend(apiKey)
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { credits: 50, creditsRefilledAt: new Date() } })
    await again.close()
    t.equal(await stored(apiKey.id), 50, 'credits set meanwhile are what the operator chose')
    await t.rejects(again.spend(apiKey), { code: 'FST_API_KEY_CLOSED' })
    t.equal(again.spendCached(apiKey, 1), null, 'closed: no payment from memory either')
  })

  t.test('input is checked', async (t) => {
    const manager = testManager(db.prisma.apiKey, { credits: true })
    t.teardown(() => manager.close())
    await t.rejects(manager.create({ name: 'x', credits: -1 }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /credits: expected an integer from 0 to 2147483647/ })
    await t.rejects(manager.create({ name: 'x', credits: 1.5 }), { message: /credits: expected an integer/ })
    await t.rejects(manager.create({ name: 'x', credits: 5, creditRefill: 'weekly' }), { message: /creditRefill: "weekly": expected day:AMOUNT/ })
    await t.rejects(manager.create({ name: 'x', creditRefill: 'day:5' }), { message: /creditRefill: needs credits/ })
    await t.rejects(manager.create({ name: 'x', credits: 5, creditsRefilledAt: new Date() }), { message: /creditsRefilledAt: is set by the library/ })
    const { apiKey } = await manager.create({ name: 'x', credits: 0, creditRefill: ' Month:1:10:ADD ' })
    t.equal(apiKey.creditRefill, 'month:1:10:add')
    t.same(await manager.spend(apiKey), { paid: false, retryAfter: Math.ceil((Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1) - Date.now()) / 1000) })
  })

  t.test('without the option', async (t) => {
    const manager = testManager(db.prisma.apiKey)
    t.teardown(() => manager.close())
    await t.rejects(manager.create({ name: 'x', credits: 5 }), { code: 'FST_API_KEY_FEATURE_OFF', message: /credits feature is off: pass credits: true/ })
    await t.rejects(manager.update('some-id', { creditRefill: 'day:5' }), { code: 'FST_API_KEY_FEATURE_OFF' })
    await t.rejects(manager.spend({ id: 'x' } as any), { code: 'FST_API_KEY_FEATURE_OFF' })
    t.throws(() => manager.balance({ id: 'x' } as any), { code: 'FST_API_KEY_FEATURE_OFF' })
    // Fail closed: a key given credits elsewhere is refused here, where nothing counts them.
    const { apiKey, key } = await manager.create({ name: 'limited elsewhere' })
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { credits: 10 } })
    t.same(await manager.verify(key), { valid: false, reason: 'usage_exceeded' })
    const app = Fastify()
    await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
    t.teardown(() => app.close())
    app.get('/y', { config: { apiKey: true } }, async () => 'y')
    const res = await app.inject({ url: '/y', headers: auth(key) })
    t.equal(res.statusCode, 429)
    t.equal(res.json().code, 'FST_API_KEY_USAGE_EXCEEDED')
  })
})

// The ledger alone, on a store in memory, with the clock in the test's hands.
t.test('block sizes follow the key\'s pace; a key never refilled counts from its creation', async (t) => {
  const row = { credits: 1_000_000 as number | null, creditRefill: 'every:60:1000000' as string | null, creditsRefilledAt: null as Date | null, createdAt: new Date(0) }
  const taken: number[] = []
  const store = {
    creditsOf: async () => ({ ...row }),
    takeCredits: async (_: string, count: number) => { taken.push(count); (row.credits as number) -= count; return true },
    refillCredits: async (_: string, _read: unknown, credits: number, at: Date) => { row.credits = credits; row.creditsRefilledAt = at; return true },
    returnCredits: async () => {}
  }
  let now = 30_000
  const realNow = Date.now
  Date.now = () => now
  t.teardown(() => { Date.now = realNow })
  const ledger = new CreditLedger(store as any, () => {})
  const record = { id: 'k', credits: 1 }
  const spendAll = async (n: number): Promise<void> => { for (let i = 0; i < n; i++) await ledger.spend(record, 1) }
  await spendAll(15)
  t.same(taken, [1, 2, 4, 8], 'calls in quick succession: each block twice the last')
  now += 60_000
  await spendAll(1)
  t.equal(row.creditsRefilledAt?.getTime(), 60_000, 'refilled at createdAt + 60 s: the first refill after a creation with no refill recorded')
  t.equal(taken.at(-1), 4, 'a minute later: the block is halved (8 / 2)')
})

t.test('options and route config', async (t) => {
  const model = { create () {}, findUnique () {}, findMany () {}, count () {}, update () {}, updateMany () {} } as any
  t.throws(() => createApiKeyManager({ model, credits: 'yes' as any }), { code: 'FST_API_KEY_INVALID_OPTION', message: /credits: expected true/ })
  const cases: Array<[boolean, unknown, RegExp]> = [
    [false, 2, /cost needs the credits option: pass credits: true/],
    ...[-1, 1.5, '2', 1_000_001].map((cost): [boolean, unknown, RegExp] => [true, cost, /cost must be an integer from 0 to 1000000/])
  ]
  for (const [credits, cost, message] of cases) {
    const app = Fastify()
    await app.register(apiKeyPlugin, { model, credits, hashThreads: 1 })
    t.throws(() => app.get('/c', { config: { apiKey: { cost } } } as any, async () => 'x'), { code: 'FST_API_KEY_INVALID_ROUTE_CONFIG', message }, String(cost))
    await app.close()
  }
})
