import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { type ApiKeyManagerOptions } from '../src/index.ts'
import { Lru } from '../src/lru.ts'
import { RowCache } from '../src/row-cache.ts'
import type { Store } from '../src/store.ts'
import type { ApiKeyRecord } from '../src/types.ts'
import { auth, buildApp, testManager } from './helpers/app.ts'
import { eachDatabase, type TestDatabase } from './helpers/databases.ts'
import { wrongSecret } from './helpers/keys.ts'
import { counted, withMethods } from './helpers/models.ts'

function manager (db: TestDatabase, options: Partial<ApiKeyManagerOptions> = {}) {
  return testManager(db.prisma.apiKey, { ...options })
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

t.test('the LRU gives a used entry a second chance, not a move on every hit', async (t) => {
  const lru = new Lru<string, number>(3)
  for (const [i, key] of ['a', 'b', 'c'].entries()) lru.set(key, i)
  t.same([...lru.entries()].map(([key]) => key), ['a', 'b', 'c'])
  t.equal(lru.get('a'), 0)
  t.same([...lru.entries()].map(([key]) => key), ['a', 'b', 'c'], 'a hit moves nothing')
  lru.set('d', 3)
  t.same([...lru.entries()].map(([key]) => key), ['c', 'd', 'a'], 'the oldest unused (b) went; a, used, moved to the back')
  lru.set('e', 4)
  lru.set('f', 5)
  t.same([...lru.entries()].map(([key]) => key), ['a', 'e', 'f'], 'c and d went before a')
  lru.set('g', 6)
  t.same([...lru.entries()].map(([key]) => key), ['e', 'f', 'g'], 'a, unused since, had its one second chance')
})

eachDatabase(t, async (t, db) => {
  t.test('a key seen before costs no query within the TTL, and concurrent first checks share one', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { cacheTtl: 60_000 })
    t.teardown(() => m.close())
    const { key } = await m.create({ name: 'hot' })
    const results = await Promise.all(Array.from({ length: 20 }, async () => await m.verify(key)))
    t.ok(results.every((r) => r.valid))
    t.equal(calls.findUnique, 1, `twenty concurrent checks, one query (${JSON.stringify(calls)})`)
    for (let i = 0; i < 50; i++) t.equal((await m.verify(key)).valid, true)
    t.equal(calls.findUnique, 1, 'then none at all')
  })

  t.test('first checks of different keys arriving together share one query', async (t) => {
    const issuer = testManager(db.prisma.apiKey)
    const made = await Promise.all(Array.from({ length: 50 }, async (_, i) => await issuer.create({ name: `burst ${i}` })))
    await issuer.close()
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { cacheTtl: 60_000, hashThreads: 2 })
    t.teardown(() => m.close())
    const results = await Promise.all(made.map(async ({ key }) => await m.verify(key)))
    t.ok(results.every((r) => r.valid), 'all fifty pass')
    t.same({ findMany: calls.findMany, findUnique: calls.findUnique ?? 0 }, { findMany: 1, findUnique: 0 }, 'fifty rows, one findMany')
  })

  t.test('a batched read that fails answers every check in it with 503, and the next batch is read afresh', async (t) => {
    const issuer = testManager(db.prisma.apiKey)
    const made = await Promise.all([1, 2, 3].map(async (i) => await issuer.create({ name: `failing batch ${i}` })))
    await issuer.close()
    let failing = true
    const real = db.prisma.apiKey as any
    const model = withMethods(real, {
      findMany: async (args: unknown) => {
        if (failing) throw new Error('connection reset')
        return await real.findMany(args)
      }
    })
    const m = testManager(model)
    t.teardown(() => m.close())
    const failed = await Promise.all(made.map(async ({ key }) => await m.verify(key).then(() => 'passed', (err: { code: string }) => err.code)))
    t.same(failed, Array(3).fill('FST_API_KEY_UNAVAILABLE'))
    failing = false
    const results = await Promise.all(made.map(async ({ key }) => await m.verify(key)))
    t.ok(results.every((r) => r.valid))
  })

  t.test('verifyCached answers from memory only: null until a check has matched, null again once the row changed', async (t) => {
    const m = testManager(db.prisma.apiKey, { cacheTtl: 60_000 })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'memory' })
    t.equal(m.verifyCached(key), null, 'never checked here: verify must')
    t.equal((await m.verify(key)).valid, true)
    t.same(m.verifyCached(key), { valid: true, apiKey }, 'now from memory')
    t.equal(m.verifyCached(wrongSecret(key)), null, 'a secret that never matched: verify must')
    t.equal(m.verifyCached('garbage'), null)
    await m.revoke(apiKey.id)
    t.equal(m.verifyCached(key), null, 'the row changed: read it again')
    t.same(await m.verify(key), { valid: false, reason: 'revoked' })
    t.same(m.verifyCached(key), { valid: false, reason: 'revoked' }, 'the revoked row, from memory')
    await m.close()
    t.equal(m.verifyCached(key), null, 'a closed manager answers nothing from memory (verify says it is closed)')
  })

  t.test('busy keys are renewed in batches before they go stale, not read one query each', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { cacheTtl: 600 })
    t.teardown(() => m.close())
    const keys = await Promise.all([1, 2, 3].map(async (i) => await m.create({ name: `busy ${i}` })))
    const gone = await m.create({ name: 'deleted behind our back' })
    for (const { key } of [...keys, gone]) t.equal((await m.verify(key)).valid, true)
    t.equal(calls.findUnique, 4)
    await db.prisma.apiKey.delete({ where: { id: gone.apiKey.id } })
    const until = Date.now() + 1500
    let goneFromMemory = false
    while (Date.now() < until) {
      for (const { key } of keys) t.equal((await m.verify(key)).valid, true)
      // Asked from memory only (no read on demand): renewed like the rest, and found gone.
      goneFromMemory ||= m.verifyCached(gone.key) === null
      await sleep(20)
    }
    t.equal(calls.findUnique, 4, 'no busy key was read on its own again (an expired row would be)')
    t.ok(calls.findMany >= 2, `${calls.findMany} batched renewals in 1.5 s at a TTL of 600 ms`)
    t.ok(goneFromMemory, 'the deleted row left the cache at its renewal')
    t.same(await m.verify(gone.key), { valid: false, reason: 'unknown' })
  })

  t.test('a failed or overtaken renewal changes nothing', async (t) => {
    let mode: 'fail' | 'hold' | 'pass' = 'fail'
    let release: () => void = () => {}
    let held: () => void = () => {}
    const holding = new Promise<void>((resolve) => { held = resolve })
    const real = db.prisma.apiKey as any
    const model = withMethods(real, {
      findMany: async (args: unknown) => {
        if (mode === 'fail') throw new Error('connection reset')
        const rows = await real.findMany(args)
        if (mode === 'hold') {
          held()
          await new Promise<void>((resolve) => { release = resolve })
        }
        return rows
      }
    })
    // Long enough a TTL that its last quarter (500 ms) is hit on a loaded machine.
    const m = testManager(model, { cacheTtl: 2000 })
    // Renewals' timers do not hold the process open (an app's server does).
    const open = setInterval(() => {}, 1000)
    t.teardown(async () => { clearInterval(open); await m.close() })
    const { apiKey, key } = await m.create({ name: 'renewal trouble' })
    t.equal((await m.verify(key)).valid, true)
    await sleep(1600)
    t.equal((await m.verify(key)).valid, true, 'in the last quarter of the TTL: renewed in the background, and that fails')
    await sleep(500)
    t.equal((await m.verify(key)).valid, true, 'expired: read again on demand')
    mode = 'hold'
    await sleep(1600)
    t.equal((await m.verify(key)).valid, true, 'renewed again: this read is held after its query')
    await holding
    // The renewal read the row before the revocation; its answer comes after.
    await m.revoke(apiKey.id)
    t.same(await m.verify(key), { valid: false, reason: 'revoked' }, 'read again and cached: revoked')
    release()
    await sleep(20)
    t.same(await m.verify(key), { valid: false, reason: 'revoked' }, 'the overtaken renewal did not put the old row back')
  })

  t.test('cacheTtl 0 reads the database on every check', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { cacheTtl: 0 })
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
    // Within its TTL the other instance may still trust its copy (its refresher
    // may also have re-read the row already): no assertion either way.
    await sleep(1600)
    t.equal(await call(slow), 'FST_API_KEY_REVOKED', 'after its TTL: refused')
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

  t.test('many distinct keys stay within cacheSize', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { cacheSize: 2, cacheTtl: 60_000 })
    t.teardown(() => m.close())
    const keys = await Promise.all([1, 2, 3].map(async (i) => (await m.create({ name: `evicted ${i}` })).key))
    for (const key of [...keys, ...keys]) t.equal((await m.verify(key)).valid, true)
    t.equal(calls.findUnique, 6, 'with room for two, three keys in turn are always read again')
  })
})

t.test('row reads: an invalidation between two reads of one prefix in a turn gives both the row of one query', async (t) => {
  const row = { id: 'id1', prefix: 'AAAAAAAA', hashedKey: 'h', previousHashedKey: null }
  let reads = 0
  const store = {
    findByPrefix: async () => { reads++; return row },
    findByPrefixes: async () => { reads++; return [row] }
  } as unknown as Store<ApiKeyRecord>
  const rows = new RowCache(store, 60_000, 10)
  const before = rows.get('AAAAAAAA')
  rows.invalidate('AAAAAAAA')
  const after = rows.get('AAAAAAAA')
  t.equal((await before)?.record.id, 'id1')
  t.equal((await after)?.record.id, 'id1')
  t.equal(reads, 1, 'one query for both')
  rows.close()
})
