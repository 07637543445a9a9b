import t from 'tap'
import { createApiKeyManager, type ApiKeyManagerOptions } from '../src/index.ts'
import { Lru } from '../src/lru.ts'
import { auth, buildApp, FAST_SCRYPT } from './helpers/app.ts'
import { eachDatabase, type TestDatabase } from './helpers/databases.ts'
import { unknownKey, wrongSecret } from './helpers/keys.ts'
import { counted, withMethods } from './helpers/models.ts'

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

function manager (db: TestDatabase, options: Partial<ApiKeyManagerOptions> = {}) {
  return createApiKeyManager({ model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, ...options })
}

t.test('a bounded LRU evicts the least recently used entry', async (t) => {
  const lru = new Lru<string, number>(2)
  lru.set('a', 1)
  lru.set('b', 2)
  t.equal(lru.get('a'), 1)
  lru.set('c', 3)
  t.equal(lru.get('b'), undefined, 'b was the least recently used')
  t.equal(lru.get('a'), 1)
  lru.delete('a')
  t.equal(lru.get('a'), undefined)
  lru.replace('a', 9)
  t.equal(lru.get('a'), undefined, 'replace never adds')
  lru.replace('c', 4)
  t.same([...lru.entries()], [['c', 4]], 'replace keeps the place and changes the value')
})

eachDatabase(t, async (t, db) => {
  t.test('a key seen before costs no query within the TTL, and concurrent first checks share one', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, cacheTtl: 60_000 })
    t.teardown(() => m.close())
    const { key } = await m.create({ name: 'hot' })
    const results = await Promise.all(Array.from({ length: 20 }, async () => await m.verify(key)))
    t.ok(results.every((r) => r.valid))
    t.equal(calls.findUnique, 1, `twenty concurrent checks, one query (${JSON.stringify(calls)})`)
    for (let i = 0; i < 50; i++) t.equal((await m.verify(key)).valid, true)
    t.equal(calls.findUnique, 1, 'then none at all')
  })

  t.test('busy keys are re-read in batches before they go stale, not one query each', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, cacheTtl: 600 })
    t.teardown(() => m.close())
    const keys = await Promise.all([1, 2, 3].map(async (i) => await m.create({ name: `busy ${i}` })))
    const gone = await m.create({ name: 'deleted behind our back' })
    for (const { key } of [...keys, gone]) t.equal((await m.verify(key)).valid, true)
    t.equal(calls.findUnique, 4)
    await db.prisma.apiKey.delete({ where: { id: gone.apiKey.id } })
    const until = Date.now() + 1500
    while (Date.now() < until) {
      for (const { key } of keys) t.equal((await m.verify(key)).valid, true)
      await sleep(20)
    }
    t.equal(calls.findUnique, 4, 'no key was read on its own again')
    t.ok(calls.findMany >= 3, `${calls.findMany} batched refreshes`)
    t.same(await m.verify(gone.key), { valid: false, reason: 'unknown' }, 'a deleted row leaves the cache at the next refresh')
  })

  t.test('a failed or overtaken refresh changes nothing', async (t) => {
    let release: () => void = () => {}
    let failing = true
    const real = db.prisma.apiKey as any
    const model = withMethods(real, {
      findMany: async (args: unknown) => {
        if (failing) throw new Error('connection reset')
        await new Promise<void>((resolve) => { release = resolve })
        return await real.findMany(args)
      }
    })
    const m = createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, cacheTtl: 100 })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'refresh trouble' })
    t.equal((await m.verify(key)).valid, true)
    await sleep(250)
    t.equal((await m.verify(key)).valid, true, 'refreshes failed: the row is read again on demand')
    failing = false
    await sleep(60)
    // A refresh is now waiting on its query; a revocation overtakes it.
    await m.revoke(apiKey.id)
    release()
    await sleep(20)
    t.same(await m.verify(key), { valid: false, reason: 'revoked' })
  })

  t.test('cacheTtl 0 reads the database on every check', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, cacheTtl: 0 })
    t.teardown(() => m.close())
    const { key } = await m.create({ name: 'no cache' })
    for (let i = 0; i < 5; i++) t.equal((await m.verify(key)).valid, true)
    t.equal(calls.findUnique, 5)
  })

  t.test('the cache never accepts a wrong secret, before or after the right one', async (t) => {
    const m = manager(db, { cacheTtl: 60_000 })
    t.teardown(() => m.close())
    const { key } = await m.create({ name: 'memo' })
    const wrong = wrongSecret(key)
    t.equal((await m.verify(wrong)).valid, false)
    t.equal((await m.verify(key)).valid, true)
    for (let i = 0; i < 3; i++) t.same(await m.verify(wrong), { valid: false, reason: 'wrong_secret' })
    t.equal((await m.verify(key)).valid, true)
  })

  t.test('a replaced hash (another instance rotated or re-hashed the key) voids the remembered secret', async (t) => {
    const a = manager(db, { cacheTtl: 100 })
    t.teardown(() => a.close())
    const first = await a.create({ name: 'replaced' })
    const other = await a.create({ name: 'donor' })
    t.equal((await a.verify(first.key)).valid, true)
    // Give `first` the hash of another secret, behind the manager's back.
    const donor = await db.prisma.apiKey.findUniqueOrThrow({ where: { id: other.apiKey.id } })
    await db.prisma.apiKey.update({ where: { id: first.apiKey.id }, data: { hashedKey: donor.hashedKey } })
    await sleep(150)
    t.same(await a.verify(first.key), { valid: false, reason: 'wrong_secret' }, 'the old secret no longer passes once the row is re-read')
  })

  t.test('revoke through the manager is refused at once on this instance, even with a long TTL', async (t) => {
    const app = await buildApp(db, { cacheTtl: 3_600_000 })
    t.teardown(() => app.close())
    const { apiKey, key } = await app.apiKeys.create({ name: 'revoke now' })
    t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200)
    await app.apiKeys.revoke(apiKey.id)
    t.equal((await app.inject({ url: '/protected', headers: auth(key) })).json().code, 'FST_API_KEY_REVOKED')
    const expiring = await app.apiKeys.create({ name: 'expire now' })
    t.equal((await app.inject({ url: '/protected', headers: auth(expiring.key) })).statusCode, 200)
    await app.apiKeys.update(expiring.apiKey.id, { expiresAt: new Date(Date.now() - 1000) })
    t.equal((await app.inject({ url: '/protected', headers: auth(expiring.key) })).json().code, 'FST_API_KEY_EXPIRED')
  })

  t.test('requests in flight while revoke runs cannot pass after it returns', async (t) => {
    const m = manager(db, { cacheTtl: 3_600_000 })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'racing' })
    t.equal((await m.verify(key)).valid, true)
    let revoked = false
    const passedAfterRevoke: number[] = []
    const load = Array.from({ length: 200 }, async (_, i) => {
      await sleep(i % 20)
      const result = await m.verify(key)
      if (revoked && result.valid) passedAfterRevoke.push(i)
    })
    await sleep(5)
    await m.revoke(apiKey.id)
    revoked = true
    await Promise.all(load)
    t.same(passedAfterRevoke, [], 'no check that finished after revoke returned passed')
    t.same(await m.verify(key), { valid: false, reason: 'revoked' })
  })

  t.test('two app instances on one database: a revocation through one reaches the other within its TTL, at once with TTL 0', async (t) => {
    const first = await buildApp(db)
    const slow = await buildApp(db, { cacheTtl: 1500 })
    const strict = await buildApp(db, { cacheTtl: 0 })
    t.teardown(async () => { await first.close(); await slow.close(); await strict.close() })
    const { apiKey, key } = await first.apiKeys.create({ name: 'shared' })
    const call = async (app: typeof first): Promise<string> => {
      const res = await app.inject({ url: '/protected', headers: auth(key) })
      return res.statusCode === 200 ? 'ok' : res.json().code
    }
    t.equal(await call(slow), 'ok')
    t.equal(await call(strict), 'ok')
    await first.apiKeys.revoke(apiKey.id)
    t.equal(await call(first), 'FST_API_KEY_REVOKED', 'the instance that revoked: at once')
    t.equal(await call(strict), 'FST_API_KEY_REVOKED', 'TTL 0: at once')
    t.equal(await call(slow), 'ok', 'within its TTL the other instance still trusts its copy')
    await sleep(1600)
    t.equal(await call(slow), 'FST_API_KEY_REVOKED', 'after its TTL: refused')
  })

  t.test('wrong secrets for one prefix are throttled; a verified key keeps passing', async (t) => {
    const app = await buildApp(db, { maxFailures: 3, failureWindow: 2000, throttleDelay: 0 })
    t.teardown(() => app.close())
    const { key } = await app.apiKeys.create({ name: 'attacked' })
    const other = await app.apiKeys.create({ name: 'bystander' })
    t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200)
    const codes = []
    for (let i = 0; i < 6; i++) codes.push((await app.inject({ url: '/protected', headers: auth(wrongSecret(key)) })).json().code)
    t.same(codes, [
      'FST_API_KEY_INVALID', 'FST_API_KEY_INVALID', 'FST_API_KEY_INVALID',
      'FST_API_KEY_THROTTLED', 'FST_API_KEY_THROTTLED', 'FST_API_KEY_THROTTLED'
    ])
    t.equal((await app.inject({ url: '/protected', headers: auth(wrongSecret(key)) })).statusCode, 429)
    t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200, 'the verified client is not locked out')
    t.equal((await app.inject({ url: '/protected', headers: auth(other.key) })).statusCode, 200, 'other prefixes are not affected')
    await sleep(2050)
    t.equal((await app.inject({ url: '/protected', headers: auth(wrongSecret(key)) })).json().code, 'FST_API_KEY_INVALID', 'the window passes')
  })

  t.test('unknown prefixes are counted and throttled like wrong secrets', async (t) => {
    const m = manager(db, { maxFailures: 3, throttleDelay: 0 })
    t.teardown(() => m.close())
    const made = unknownKey()
    const reasons = []
    // Other secrets for the same made-up prefix (the same key sent again costs nothing: test/throttle.test.ts).
    for (let i = 0; i < 5; i++) reasons.push((await m.verify(wrongSecret(made)) as { reason: string }).reason)
    t.same(reasons, ['unknown', 'unknown', 'unknown', 'throttled', 'throttled'], 'the same budget per prefix as a real one')
    const others = []
    for (let i = 0; i < 12; i++) others.push((await m.verify(unknownKey()) as { reason: string }).reason)
    t.same(new Set(others), new Set(['unknown']), 'other prefixes have budgets of their own')
  })

  t.test('a burst of wrong secrets cannot queue more hashes than the limit', async (t) => {
    const m = manager(db, { maxFailures: 5, throttleDelay: 200 })
    t.teardown(() => m.close())
    const { key } = await m.create({ name: 'burst' })
    const started = Date.now()
    const results = await Promise.all(Array.from({ length: 50 }, async () => await m.verify(wrongSecret(key))))
    const reasons = results.map((r) => (r as { reason: string }).reason)
    t.equal(reasons.filter((r) => r === 'wrong_secret').length, 5)
    t.equal(reasons.filter((r) => r === 'throttled').length, 45)
    t.ok(Date.now() - started >= 190, 'throttled refusals wait throttleDelay before they answer')

    const other = await m.create({ name: 'same wrong secret' })
    const wrong = wrongSecret(other.key)
    const same = await Promise.all(Array.from({ length: 20 }, async () => await m.verify(wrong)))
    t.ok(same.every((r) => !r.valid && r.reason === 'wrong_secret'), 'one guess sent twenty times is one failure')
    t.equal((await m.verify(wrongSecret(other.key))).valid, false)
    t.same(await m.verify(other.key), { valid: true, apiKey: other.apiKey }, 'two failures, under the limit')
  })

  t.test('a check waiting for its hash when revoke returns reads the key again', async (t) => {
    const m = manager(db, { scrypt: { ln: 14 }, cacheTtl: 3_600_000 })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'slow hash' })
    const check = m.verify(key)
    await m.revoke(apiKey.id)
    t.same(await check, { valid: false, reason: 'revoked' })
    t.equal(m.status(apiKey), 'active', 'status() reads the record it is given')
    t.equal(m.status({ ...apiKey, revoked: true }), 'revoked')
  })

  t.test('without a handler, a background write failure becomes a process warning', async (t) => {
    const real = db.prisma.apiKey as any
    const broken = withMethods(real, { updateMany: async () => { throw new Error('disk full') } })
    const m = createApiKeyManager({ model: broken, scrypt: FAST_SCRYPT, hashThreads: 1, lastUsedInterval: 1 })
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve))
    const { key } = await m.create({ name: 'warned' })
    t.equal((await m.verify(key)).valid, true)
    // The flush timer is unref'd (it never holds a process open): hold this one.
    const hold = setTimeout(() => {}, 10_000)
    t.match(await warned, { code: 'FST_API_KEY_UNAVAILABLE' })
    clearTimeout(hold)
    await t.rejects(m.close(), { code: 'FST_API_KEY_UNAVAILABLE' }, 'close says the last flush failed')
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

  t.test('lastUsedAt is written once per interval, in batches, and on close', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, lastUsedInterval: 60_000 })
    const keys = await Promise.all([1, 2, 3].map(async (i) => await m.create({ name: `used ${i}` })))
    const before = Date.now()
    for (let round = 0; round < 5; round++) {
      for (const { key } of keys) t.equal((await m.verify(key)).valid, true)
    }
    t.equal(calls.updateMany ?? 0, 0, 'nothing written on the request path')
    await Promise.all([m.flush(), m.flush()])
    await m.close()
    t.equal(calls.updateMany, 1, 'one batch for three keys and fifteen uses, however many flushes')
    for (const { apiKey } of keys) {
      const row = await db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })
      t.ok(row.lastUsedAt !== null && row.lastUsedAt.getTime() >= before - 1000, 'lastUsedAt written')
    }
  })

  t.test('a failed lastUsedAt flush is retried, not dropped', async (t) => {
    let failures = 1
    const real = db.prisma.apiKey as any
    const flaky = withMethods(real, {
      updateMany: async (args: unknown) => {
        if (failures-- > 0) throw Object.assign(new Error('connection lost'), { code: 'ECONNRESET' })
        return await real.updateMany(args)
      }
    })
    const m = createApiKeyManager({ model: flaky, scrypt: FAST_SCRYPT, hashThreads: 1, lastUsedInterval: 50 })
    const errors: unknown[] = []
    m.onBackgroundError = (err) => errors.push(err)
    const { apiKey, key } = await m.create({ name: 'flaky' })
    t.equal((await m.verify(key)).valid, true)
    for (let i = 0; i < 100 && (await db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt === null; i++) await sleep(20)
    t.equal(errors.length, 1, 'the failure was reported')
    t.match(errors[0], { code: 'FST_API_KEY_UNAVAILABLE' })
    t.not((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt, null, 'and the write retried')
    await m.close()
  })

  t.test('lastUsedInterval 0 never writes', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, lastUsedInterval: 0 })
    const { key } = await m.create({ name: 'unrecorded' })
    t.equal((await m.verify(key)).valid, true)
    await m.close()
    t.equal(calls.updateMany ?? 0, 0)
  })

  t.test('many distinct keys stay within cacheSize', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, cacheSize: 2, cacheTtl: 60_000 })
    t.teardown(() => m.close())
    const keys = await Promise.all([1, 2, 3].map(async (i) => (await m.create({ name: `evicted ${i}` })).key))
    for (const key of [...keys, ...keys]) t.equal((await m.verify(key)).valid, true)
    t.equal(calls.findUnique, 6, 'with room for two, three keys in turn are always read again')
  })
})
