// The per-prefix throttle: a token bucket of unverified checks that knowing a
// prefix is not enough to lock its owner out with. Date is faked where the
// refill is the point (timers stay real so the database drivers work).
import { setTimeout as sleep } from 'node:timers/promises'
import FakeTimers from '@sinonjs/fake-timers'
import t from 'tap'
import { type ApiKeyManagerOptions } from '../src/index.ts'
import { auth, buildApp, testManager } from './helpers/app.ts'
import { eachDatabase, type TestDatabase } from './helpers/databases.ts'
import { unknownKey, wrongSecret } from './helpers/keys.ts'

function manager (db: TestDatabase, options: Partial<ApiKeyManagerOptions> = {}) {
  // The default budget (10, then one a second); no tarpit, so refusals answer at once.
  return testManager(db.prisma.apiKey, { throttleDelay: 0, ...options })
}

const reason = (result: { valid: boolean, reason?: string }): string => result.valid ? 'valid' : result.reason as string

eachDatabase(t, async (t, db) => {
  t.test('after a burst of wrong secrets, the owner\'s key (not cached yet) is verified within a second, not after a window', async (t) => {
    const clock = FakeTimers.install({ toFake: ['Date'], now: new Date('2026-12-01T12:00:00Z') })
    t.teardown(() => clock.uninstall())
    const issuer = manager(db)
    const { key } = await issuer.create({ name: 'known prefix' })
    await issuer.close()
    // A restarted instance: nothing cached, the attacker got there first.
    const m = manager(db)
    t.teardown(() => m.close())
    const attempts = []
    for (let i = 0; i < 10; i++) attempts.push(reason(await m.verify(wrongSecret(key))))
    t.same(attempts, Array(10).fill('wrong_secret'), 'ten wrong secrets: the burst')
    t.equal(reason(await m.verify(key)), 'throttled', 'the burst is spent')
    clock.tick(1000)
    t.equal(reason(await m.verify(key)), 'valid', 'one second later a check comes back, and the owner is verified')
    t.equal(reason(await m.verify(wrongSecret(key))), 'wrong_secret', 'a match gives its token back: the next wrong secret is checked')
    t.equal(reason(await m.verify(wrongSecret(key))), 'throttled', 'and the one after is not')
    t.equal(reason(await m.verify(key)), 'valid', 'a verified key is never throttled')
  })

  t.test('after a rotation with no grace, replays of the old secret never hold the new one back, here or on a new instance', async (t) => {
    const a = manager(db)
    t.teardown(() => a.close())
    const leaked = await a.create({ name: 'leaked' })
    t.equal(reason(await a.verify(leaked.key)), 'valid')
    const { key } = await a.rotate(leaked.apiKey.id, { gracePeriod: 0 })
    const b = manager(db)
    t.teardown(() => b.close())
    for (const m of [a, b]) {
      const replays = []
      for (let i = 0; i < 20; i++) replays.push(reason(await m.verify(leaked.key)))
      t.same(replays, Array(20).fill('wrong_secret'), 'twenty replays of the leaked secret: refused, never throttled')
      t.equal(reason(await m.verify(key)), 'valid', 'the new secret passes at once')
    }
  })

  t.test('a wrong secret sent again is refused without a hash and without spending the budget', async (t) => {
    const m = manager(db, { maxFailures: 2 })
    t.teardown(() => m.close())
    const { key } = await m.create({ name: 'replayed' })
    const wrong = wrongSecret(key)
    const replays = []
    for (let i = 0; i < 20; i++) replays.push(reason(await m.verify(wrong)))
    t.same(replays, Array(20).fill('wrong_secret'), 'one token for twenty sends')
    t.equal(reason(await m.verify(wrongSecret(key))), 'wrong_secret', 'the budget has one left')
    t.equal(reason(await m.verify(wrongSecret(key))), 'throttled', 'and then none')
  })

  t.test('a flood of new wrong secrets gets a burst and then one check per refill, no more', async (t) => {
    const m = manager(db, { maxFailures: 5, failureWindow: 1000, throttleDelay: 20 })
    t.teardown(() => m.close())
    const { key } = await m.create({ name: 'flooded' })
    const started = Date.now()
    const seconds = 1.5
    const counts: Record<string, number> = {}
    await Promise.all(Array.from({ length: 10 }, async () => {
      while (Date.now() - started < seconds * 1000) {
        const r = reason(await m.verify(wrongSecret(key)))
        counts[r] = (counts[r] ?? 0) + 1
      }
    }))
    const elapsed = (Date.now() - started) / 1000
    const bound = 5 + elapsed / 0.2 + 1
    t.ok(counts.wrong_secret <= bound, `${counts.wrong_secret} hashes in ${elapsed.toFixed(2)} s (at most ${bound.toFixed(1)}: a burst of 5, then one per 200 ms)`)
    t.ok(counts.throttled > 0, `${counts.throttled} throttled`)
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
})
