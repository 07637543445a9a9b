// lastUsedAt after an outage: each key keeps the time of its own latest use
// (to within a second), not the latest use of the whole batch held back.
import { setTimeout as sleep } from 'node:timers/promises'
import FakeTimers from '@sinonjs/fake-timers'
import t from 'tap'
import { MINUTE } from './helpers/time.ts'
import { testManager } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'
import { counted, withMethods } from './helpers/models.ts'

eachDatabase(t, async (t, db) => {
  t.test('marks held back by failed writes are stamped each with its own use', async (t) => {
    const clock = FakeTimers.install({ toFake: ['Date'], now: new Date('2026-12-01T09:00:00.250Z') })
    t.teardown(() => clock.uninstall())
    let down = true
    const real = db.prisma.apiKey as any
    const model = withMethods(real, {
      updateMany: async (args: unknown) => {
        if (down) throw Object.assign(new Error('connection lost'), { code: 'ECONNRESET' })
        return await real.updateMany(args)
      }
    })
    const m = testManager(model, { lastUsedInterval: MINUTE, onBackgroundError: () => {} })
    t.teardown(() => m.close())
    const early = await m.create({ name: 'used early' })
    const late = await m.create({ name: 'used late' })
    const earlyAt = Date.now()
    t.equal((await m.verify(early.key)).valid, true)
    await t.rejects(m.flush(), { code: 'FST_API_KEY_UNAVAILABLE' }, 'the write fails: the mark is kept')
    clock.tick(5 * MINUTE)
    const lateAt = Date.now()
    t.equal((await m.verify(late.key)).valid, true)
    down = false
    await m.flush()
    const stamp = async (id: string): Promise<number> => ((await db.prisma.apiKey.findUniqueOrThrow({ where: { id } })).lastUsedAt as Date).getTime()
    const earlyStamp = await stamp(early.apiKey.id)
    t.ok(earlyStamp >= earlyAt && earlyStamp - earlyAt < 1000, `the early key: its own use (${new Date(earlyStamp).toISOString()}), not the late one's`)
    t.equal(await stamp(late.apiKey.id), lateAt, 'the late key: its use')
  })

  t.test('a batch of one flush interval is one write', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { lastUsedInterval: MINUTE })
    const keys = await Promise.all([1, 2, 3, 4].map(async (i) => await m.create({ name: `batched ${i}` })))
    for (const { key } of keys) t.equal((await m.verify(key)).valid, true)
    await m.close()
    t.equal(calls.updateMany, 1, `four keys used within a second, one write (${JSON.stringify(calls)})`)
  })

  t.test('without a handler, a background write failure becomes a process warning', async (t) => {
    const real = db.prisma.apiKey as any
    const broken = withMethods(real, { updateMany: async () => { throw new Error('disk full') } })
    const m = testManager(broken, { lastUsedInterval: 1 })
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve))
    const { key } = await m.create({ name: 'warned' })
    t.equal((await m.verify(key)).valid, true)
    // The flush timer is unref'd (it never holds a process open): hold this one.
    const hold = setTimeout(() => {}, 10_000)
    t.match(await warned, { code: 'FST_API_KEY_UNAVAILABLE' })
    clearTimeout(hold)
    await t.rejects(m.close(), { code: 'FST_API_KEY_UNAVAILABLE' }, 'close says the last flush failed')
  })

  t.test('lastUsedAt is written once per interval, in batches, and on close', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { lastUsedInterval: 60_000 })
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
    const errors: unknown[] = []
    const m = testManager(flaky, { lastUsedInterval: 50, onBackgroundError: (err) => errors.push(err) })
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
    const m = testManager(model, { lastUsedInterval: 0 })
    const { key } = await m.create({ name: 'unrecorded' })
    t.equal((await m.verify(key)).valid, true)
    await m.close()
    t.equal(calls.updateMany ?? 0, 0)
  })
})
