// Rotation against checks in flight: a check that starts after rotate()
// returned never passes on a hash computed against the row before it, and a
// grace period ends when it says, even for a check whose hash outlasts it.
// The stored hashes are made costly (ln 16, ~0.3 s) so that a hash is
// certainly still running when the rotation lands.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createApiKeyManager } from '../src/index.ts'
import { FAST_SCRYPT } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'

const SLOW = { ln: 16, r: 8, p: 1 }

eachDatabase(t, async (t, db) => {
  // Two threads: the rotation's own hash must not wait behind the slow check.
  const m = createApiKeyManager({ model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 2, cacheTtl: 60_000 })
  const slow = createApiKeyManager({ model: db.prisma.apiKey, scrypt: SLOW, hashThreads: 1 })
  t.teardown(async () => { await m.close(); await slow.close() })

  t.test('after rotate(id, { gracePeriod: 0 }) returns, the old secret never passes, even while a check of it is hashing', async (t) => {
    const { apiKey, key: oldKey } = await slow.create({ name: 'leaked' })
    const before = m.verify(oldKey)
    // The check has read the row and is hashing against the costly old hash.
    await sleep(50)
    const { key: newKey } = await m.rotate(apiKey.id, { gracePeriod: 0 })
    const after = await m.verify(oldKey)
    t.same(after, { valid: false, reason: 'wrong_secret' }, 'a check started after rotate returned did not join the old hash')
    t.same(await before, { valid: false, reason: 'wrong_secret' }, 'nor does the check that was hashing when it landed')
    t.equal((await m.verify(newKey)).valid, true, 'the new secret works')
  })

  t.test('a grace period ends when it says, even for a check whose hash outlasts it', async (t) => {
    const { apiKey, key: oldKey } = await slow.create({ name: 'grace' })
    const grace = 100
    const { key: newKey } = await m.rotate(apiKey.id, { gracePeriod: grace })
    const rotatedAt = Date.now()
    // The new hash is cheap and fails at once; the old one takes ~0.3 s and
    // starts well inside the grace period.
    const result = await m.verify(oldKey)
    t.ok(Date.now() - rotatedAt > grace, `the check outlasted the grace period (${Date.now() - rotatedAt} ms > ${grace} ms)`)
    t.same(result, { valid: false, reason: 'wrong_secret' }, 'decided when the hash was done, after the end')
    t.equal((await m.verify(newKey)).valid, true)
  })

  t.test('within the grace period the old secret still passes with a costly hash', async (t) => {
    const { apiKey, key: oldKey } = await slow.create({ name: 'grace kept' })
    await m.rotate(apiKey.id, { gracePeriod: 60_000 })
    t.equal((await m.verify(oldKey)).valid, true)
  })
})
