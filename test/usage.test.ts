// Usage history: accepted checks counted in memory per key and UTC period,
// added to the database in one increment per key and period per flush, by as
// many instances as there are, exactly.
import { setTimeout as sleep } from 'node:timers/promises'
import FakeTimers from '@sinonjs/fake-timers'
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin from '../src/index.ts'
import { auth, buildApp, FAST_SCRYPT, testManager } from './helpers/app.ts'
import { eachDatabase, openDatabase, openLocation, type TestDatabase } from './helpers/databases.ts'
import { wrongSecret } from './helpers/keys.ts'
import { DAY, HOUR, SECOND } from './helpers/time.ts'

const METHODS = ['updateMany', 'create', 'findMany'] as const
type Method = (typeof METHODS)[number]

/** The real usage delegate, with some of its methods replaced and every call counted. */
function usageModel (real: any, replaced: Partial<Record<Method, (args: any) => Promise<any>>> = {}): { model: any, calls: Record<string, number> } {
  const calls: Record<string, number> = {}
  const model = Object.fromEntries(METHODS.map((name) => [name, async (args: unknown) => {
    calls[name] = (calls[name] ?? 0) + 1
    return await (replaced[name] ?? real[name].bind(real))(args)
  }]))
  return { model, calls }
}

const lost = (): Error => Object.assign(new Error('connection lost'), { code: 'ECONNRESET' })
const startOfDay = (ms = Date.now()): Date => new Date(Math.floor(ms / DAY) * DAY)
const counts = (rows: Array<{ periodStart: Date, count: number }>): Array<[string, number]> => rows.map(({ periodStart, count }) => [periodStart.toISOString(), count])

async function rows (db: TestDatabase, keyId: string): Promise<Array<[string, number]>> {
  return counts(await db.prisma.apiKeyUsage.findMany({ where: { keyId }, orderBy: { periodStart: 'asc' } }))
}

eachDatabase(t, async (t, db) => {
  const usage = { model: db.prisma.apiKeyUsage }

  t.test('verify and the warm path count accepted checks, written at flush', async (t) => {
    const m = testManager(db.prisma.apiKey, { usage })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'counted' })
    t.equal((await m.verify(key)).valid, true)
    t.equal((await m.verify(key)).valid, true)
    for (let i = 0; i < 3; i++) t.equal(m.verifyCached(key)?.valid, true, 'answered from memory')
    t.equal((await m.verify(wrongSecret(key))).valid, false)
    t.equal(m.verifyCached(wrongSecret(key))?.valid ?? false, false)
    t.same(await rows(db, apiKey.id), [], 'nothing written on the request path')
    await m.flush()
    t.same(await rows(db, apiKey.id), [[startOfDay().toISOString(), 5]], 'five accepted checks, refusals not counted')
    t.same(counts(await m.usage(apiKey.id)), [[startOfDay().toISOString(), 5]])
  })

  t.test('requests through the plugin count, and close writes what is left', async (t) => {
    const app = await buildApp(db, { usage })
    const { apiKey, key } = await app.apiKeys.create({ name: 'plugin' })
    for (let i = 0; i < 4; i++) t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200)
    t.equal((await app.inject({ url: '/protected', headers: auth(wrongSecret(key)) })).statusCode, 401)
    await app.close()
    t.same(await rows(db, apiKey.id), [[startOfDay().toISOString(), 4]])
  })

  t.test('a flush is one increment per key and period, however many checks', async (t) => {
    const { model, calls } = usageModel(db.prisma.apiKeyUsage)
    const m = testManager(db.prisma.apiKey, { usage: { model } })
    t.teardown(() => m.close())
    const keys = await Promise.all([1, 2, 3].map(async (i) => await m.create({ name: `batched ${i}` })))
    for (let round = 0; round < 4; round++) for (const { key } of keys) t.equal((await m.verify(key)).valid, true)
    t.same(calls, {}, 'nothing written before the flush')
    await Promise.all([m.flush(), m.flush()])
    t.same(calls, { updateMany: 3, create: 3 }, 'new rows: an increment that finds none, then a create')
    for (const { key } of keys) t.equal((await m.verify(key)).valid, true)
    await m.flush()
    t.same(calls, { updateMany: 6, create: 3 }, 'existing rows: one increment each')
    for (const { apiKey } of keys) t.same(await rows(db, apiKey.id), [[startOfDay().toISOString(), 5]])
  })

  t.test('a failed flush keeps the counts it did not write, and only those', async (t) => {
    const real = db.prisma.apiKeyUsage as any
    let failAt = -1
    const { model } = usageModel(real, {
      updateMany: async (args) => {
        if (failAt-- === 0) {
          // A check of the same key while the flush is on its way down.
          t.equal(m.verifyCached(second.key)?.valid, true)
          throw lost()
        }
        return await real.updateMany(args)
      }
    })
    const m = testManager(db.prisma.apiKey, { usage: { model } })
    t.teardown(() => m.close())
    const first = await m.create({ name: 'written first' })
    const second = await m.create({ name: 'held back' })
    for (const { key } of [first, second, first, second]) t.equal((await m.verify(key)).valid, true)
    failAt = 1
    await t.rejects(m.flush(), { code: 'FST_API_KEY_UNAVAILABLE' }, 'the second increment fails')
    t.same(await rows(db, first.apiKey.id), [[startOfDay().toISOString(), 2]], 'the first was written')
    t.same(await rows(db, second.apiKey.id), [], 'the second was not')
    t.equal((await m.verify(second.key)).valid, true)
    await m.flush()
    t.same(await rows(db, first.apiKey.id), [[startOfDay().toISOString(), 2]], 'not written twice')
    t.same(await rows(db, second.apiKey.id), [[startOfDay().toISOString(), 4]], 'kept, and added to by the checks during and after the failed flush')
  })

  t.test('the timer flushes in the background and retries after a failure', async (t) => {
    const real = db.prisma.apiKeyUsage as any
    let failures = 1
    const { model } = usageModel(real, {
      create: async (args) => {
        if (failures-- > 0) throw lost()
        return await real.create(args)
      }
    })
    const errors: unknown[] = []
    const m = testManager(db.prisma.apiKey, { usage: { model }, lastUsedInterval: 50, onBackgroundError: (err) => errors.push(err) })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'background' })
    t.equal((await m.verify(key)).valid, true)
    for (let i = 0; i < 100 && (await rows(db, apiKey.id)).length === 0; i++) await sleep(20)
    t.equal(errors.length, 1, 'the failure was reported')
    t.match(errors[0], { code: 'FST_API_KEY_UNAVAILABLE' })
    t.same(await rows(db, apiKey.id), [[startOfDay().toISOString(), 1]], 'and the write retried')
  })

  t.test('with lastUsedInterval 0, usage is still counted (flushed every minute, and on close)', async (t) => {
    const m = testManager(db.prisma.apiKey, { usage, lastUsedInterval: 0 })
    const { apiKey, key } = await m.create({ name: 'no lastUsedAt' })
    t.equal((await m.verify(key)).valid, true)
    await sleep(100)
    t.same(await rows(db, apiKey.id), [], 'not flushed at once')
    await m.close()
    t.same(await rows(db, apiKey.id), [[startOfDay().toISOString(), 1]])
    t.equal((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt, null)
  })

  t.test('two instances add up exactly, also when both create the same row', async (t) => {
    // The second instance has a Prisma client (and connections) of its own.
    const prisma = openLocation(db.location)
    // Each instance's first increment waits for the other's: both find no row,
    // both create it, and one of them loses the race (P2002).
    let waiting = 2
    let open = (): void => {}
    const gate = new Promise<void>((resolve) => { open = resolve })
    const gated = (real: any): { model: any, calls: Record<string, number> } => {
      let first = true
      return usageModel(real, {
        updateMany: async (args) => {
          const result = await real.updateMany(args)
          if (first) {
            first = false
            if (--waiting === 0) open()
            await gate
          }
          return result
        }
      })
    }
    const a = gated(db.prisma.apiKeyUsage)
    const b = gated(prisma.apiKeyUsage)
    const one = testManager(db.prisma.apiKey, { usage: { model: a.model } })
    const two = testManager(prisma.apiKey as any, { usage: { model: b.model } })
    t.teardown(async () => {
      await Promise.all([one.close(), two.close()])
      await prisma.$disconnect()
    })
    const { apiKey, key } = await one.create({ name: 'shared' })
    for (let i = 0; i < 3; i++) t.equal((await one.verify(key)).valid, true)
    for (let i = 0; i < 4; i++) t.equal((await two.verify(key)).valid, true)
    await Promise.all([one.flush(), two.flush()])
    t.same([a.calls.create, b.calls.create], [1, 1], 'both tried to create the row')
    t.equal(a.calls.updateMany + b.calls.updateMany, 3, 'the one that lost incremented it instead')
    t.same(await rows(db, apiKey.id), [[startOfDay().toISOString(), 7]])

    // And under load: checks and flushes of both, interleaved.
    let accepted = 7
    await Promise.all([one, two].map(async (m) => {
      for (let i = 0; i < 20; i++) {
        const results = await Promise.all([m.verify(key), m.verify(key), m.verifyCached(key)])
        accepted += results.filter((result) => result?.valid === true).length
        if (i % 5 === 0) await m.flush()
      }
      await m.flush()
    }))
    t.ok(accepted > 80)
    t.same(await rows(db, apiKey.id), [[startOfDay().toISOString(), accepted]])
  })

  t.test('periods start at UTC midnights, or UTC hours', async (t) => {
    const clock = FakeTimers.install({ toFake: ['Date'], now: new Date('2026-12-01T23:59:59.500Z') })
    t.teardown(() => clock.uninstall())
    const daily = testManager(db.prisma.apiKey, { usage })
    const hourly = testManager(db.prisma.apiKey, { usage: { ...usage, period: 'hour' } })
    t.teardown(() => Promise.all([daily.close(), hourly.close()]))
    const day = await daily.create({ name: 'daily' })
    const hour = await hourly.create({ name: 'hourly' })
    t.equal((await daily.verify(day.key)).valid, true)
    t.equal((await hourly.verify(hour.key)).valid, true)
    t.equal(hourly.verifyCached(hour.key)?.valid, true)
    clock.tick(SECOND)
    t.equal(daily.verifyCached(day.key)?.valid, true)
    t.equal((await hourly.verify(hour.key)).valid, true)
    clock.tick(HOUR)
    t.equal((await hourly.verify(hour.key)).valid, true)
    await Promise.all([daily.flush(), hourly.flush()])
    t.same(await rows(db, day.apiKey.id), [['2026-12-01T00:00:00.000Z', 1], ['2026-12-02T00:00:00.000Z', 1]])
    t.same(await rows(db, hour.apiKey.id), [['2026-12-01T23:00:00.000Z', 2], ['2026-12-02T00:00:00.000Z', 1], ['2026-12-02T01:00:00.000Z', 1]])

    clock.setSystemTime(new Date('2027-01-01T02:00:00.500Z'))
    t.same(counts(await hourly.usage(hour.apiKey.id)), [], 'by default, the last 30 days')
    clock.setSystemTime(new Date('2027-01-01T00:00:00.500Z'))
    t.same(counts(await hourly.usage(hour.apiKey.id)), [['2026-12-02T00:00:00.000Z', 1], ['2026-12-02T01:00:00.000Z', 1]], 'the period 30 days ago included')
  })

  t.test('a pending count of a deleted key is dropped; the cascade holds', async (t) => {
    const errors: unknown[] = []
    const m = testManager(db.prisma.apiKey, { usage, onBackgroundError: (err) => errors.push(err) })
    t.teardown(() => m.close())
    const flushed = await m.create({ name: 'flushed, then deleted' })
    const fresh = await m.create({ name: 'never flushed, deleted' })
    const kept = await m.create({ name: 'kept' })
    t.equal((await m.verify(flushed.key)).valid, true)
    await m.flush()
    for (const { key } of [flushed, fresh, kept]) t.equal((await m.verify(key)).valid, true)
    await db.prisma.apiKey.delete({ where: { id: flushed.apiKey.id } })
    await db.prisma.apiKey.delete({ where: { id: fresh.apiKey.id } })
    t.same(await rows(db, flushed.apiKey.id), [], 'its rows went with it')
    await m.flush()
    t.same(await rows(db, flushed.apiKey.id), [], 'no row made again')
    t.same(await rows(db, fresh.apiKey.id), [], 'nor a new one')
    t.same(await rows(db, kept.apiKey.id), [[startOfDay().toISOString(), 1]], 'the other key of the batch is written')
    t.same(errors, [])
    await m.flush()
    t.same(await rows(db, kept.apiKey.id), [[startOfDay().toISOString(), 1]], 'the dropped counts are not retried')
  })

  t.test('usage() reads a range of periods, oldest first, only those with counts', async (t) => {
    const m = testManager(db.prisma.apiKey, { usage })
    t.teardown(() => m.close())
    const { apiKey } = await m.create({ name: 'history' })
    const other = await m.create({ name: 'other' })
    const at = (iso: string): Date => new Date(iso)
    await db.prisma.apiKeyUsage.createMany({
      data: [
        { keyId: apiKey.id, periodStart: at('2026-11-03T00:00:00Z'), count: 3 },
        { keyId: apiKey.id, periodStart: at('2026-11-01T00:00:00Z'), count: 1 },
        { keyId: apiKey.id, periodStart: at('2026-11-05T00:00:00Z'), count: 5 },
        { keyId: other.apiKey.id, periodStart: at('2026-11-03T00:00:00Z'), count: 9 }
      ]
    })
    t.same(counts(await m.usage(apiKey.id, { from: at('2026-10-01T00:00:00Z'), to: at('2026-12-01T00:00:00Z') })),
      [['2026-11-01T00:00:00.000Z', 1], ['2026-11-03T00:00:00.000Z', 3], ['2026-11-05T00:00:00.000Z', 5]])
    t.same(counts(await m.usage(apiKey.id, { from: at('2026-11-03T12:00:00Z'), to: at('2026-11-05T00:00:00Z') })),
      [['2026-11-03T00:00:00.000Z', 3]], 'the period holding `from`, and periods starting before `to`')
    t.same(await m.usage(apiKey.id, { from: at('2026-11-06T00:00:00Z'), to: at('2026-11-07T00:00:00Z') }), [])
    t.same(await m.usage('no-such-id'), [], 'an unknown id has no usage')
    const [first] = await m.usage(apiKey.id, { from: at('2026-10-01T00:00:00Z') })
    t.ok(first.periodStart instanceof Date)
    t.same(Object.keys(first).sort(), ['count', 'periodStart'])
  })

  t.test('the startup check reads the usage table', async (t) => {
    const start = async (options: object): Promise<void> => {
      const app = Fastify()
      t.teardown(() => app.close())
      await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, ...options })
      await app.ready()
    }
    await start({ usage })
    await t.rejects(start({ usage: { model: db.prisma.apiKey } }), { code: 'FST_API_KEY_INVALID_OPTION', message: /^Invalid option usage.model: / }, 'not a usage model')
    await db.query(`DROP TABLE ${db.provider === 'mysql' ? '`ApiKeyUsage`' : '"ApiKeyUsage"'}`)
    await t.rejects(start({ usage }), { code: 'FST_API_KEY_NOT_MIGRATED', message: /ApiKeyUsage.*run `prisma migrate deploy`/ })
    await start({})
  })
})

t.test('options, arguments and the feature left off', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const model = db.prisma.apiKey
  const usage = { model: db.prisma.apiKeyUsage }

  t.test('usage() without the option says how to turn it on', async (t) => {
    const m = testManager(model)
    t.teardown(() => m.close())
    const { apiKey } = await m.create({ name: 'off' })
    await t.rejects(m.usage(apiKey.id), {
      code: 'FST_API_KEY_FEATURE_OFF',
      statusCode: 500,
      message: 'The usage history feature is off: pass usage: { model: prisma.apiKeyUsage } to the plugin or createApiKeyManager (docs/usage.md)'
    })
  })

  t.test('usage() refuses wrong arguments', async (t) => {
    const m = testManager(model, { usage })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'arguments' })
    const from = new Date('2026-11-01T00:00:00Z')
    const cases: Array<[string, unknown[], RegExp]> = [
      ['no id', [''], /^Invalid argument id: expected a non-empty string/],
      ['a key for an id', [key], /^Invalid argument id: this is an API key, not an id/],
      ['input not an object', [apiKey.id, 'last week'], /^Invalid argument input: expected an object such as \{ from, to \}/],
      ['an unknown field', [apiKey.id, { since: from }], /^Invalid argument since: unknown, expected from or to/],
      ['from as text', [apiKey.id, { from: '2026-11-01' }], /^Invalid argument from: expected a valid Date/],
      ['an invalid to', [apiKey.id, { to: new Date('nope') }], /^Invalid argument to: expected a valid Date/],
      ['to before from', [apiKey.id, { from, to: new Date('2026-10-01T00:00:00Z') }], /^Invalid argument to: must be after from/],
      ['to equal to from', [apiKey.id, { from, to: from }], /^Invalid argument to: must be after from/]
    ]
    for (const [name, args, message] of cases) {
      await t.rejects((m.usage as any)(...args), { code: 'FST_API_KEY_INVALID_ARGUMENT', statusCode: 400, message }, name)
    }
  })

  t.test('the guide\'s example: hourly usage, and a route that reads it', async (t) => {
    const { prisma } = db
    const app = Fastify()
    t.teardown(() => app.close())
    // docs/usage.md: the option
    await app.register(apiKeyPlugin, { model: prisma.apiKey, usage: { model: prisma.apiKeyUsage, period: 'hour' } })
    app.get('/orders', { config: { apiKey: true } }, async () => [])
    // docs/usage.md: reading it
    app.get('/keys/:id/usage', async (request) => {
      const { id } = request.params as { id: string }
      const periods = await app.apiKeys.usage(id, { from: new Date(Date.now() - 7 * 24 * 60 * 60 * 1000) })
      return { total: periods.reduce((sum, { count }) => sum + count, 0), periods }
    })
    const { apiKey, key } = await app.apiKeys.create({ name: 'guide' })
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/orders', headers: auth(key) })).statusCode, 200)
    await app.apiKeys.flush()
    const { total, periods } = (await app.inject(`/keys/${apiKey.id}/usage`)).json()
    t.equal(total, 3)
    t.match(periods, [{ periodStart: /^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/, count: 3 }], 'one hour')
    t.ok(Date.now() - Date.parse(periods[0].periodStart) < 2 * HOUR)
  })

  t.test('usage() while the database is down is a 503', async (t) => {
    const { model: down } = usageModel(db.prisma.apiKeyUsage, { findMany: async () => { throw lost() } })
    const m = testManager(model, { usage: { model: down } })
    t.teardown(() => m.close())
    const { apiKey } = await m.create({ name: 'outage' })
    await t.rejects(m.usage(apiKey.id), { code: 'FST_API_KEY_UNAVAILABLE', statusCode: 503 })
  })

  t.test('a wrong usage option fails at once', async (t) => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['not an object', true, /^Invalid option usage: expected \{ model: prisma.apiKeyUsage, period\?: 'hour' \| 'day' \}/],
      ['the model itself', db.prisma.apiKeyUsage, /^Invalid option usage: expected \{ model/],
      ['no model', {}, /^Invalid option usage.model: expected the usage model's Prisma delegate such as prisma.apiKeyUsage \(missing updateMany\(\)\)/],
      ['a model without create', { model: { updateMany: () => {}, findMany: () => {} } }, /\(missing create\(\)\)/],
      ['an unknown key', { ...usage, interval: 5 }, /^Invalid option usage.interval: unknown option, expected one of model, period/],
      ['a bad period', { ...usage, period: 'week' }, /^Invalid option usage.period: expected 'hour' or 'day'/]
    ]
    for (const [name, value, message] of cases) {
      t.throws(() => testManager(model, { usage: value as any }), { code: 'FST_API_KEY_INVALID_OPTION', message }, name)
      const app = Fastify()
      await t.rejects(async () => await app.register(apiKeyPlugin, { model, usage: value as any }), { code: 'FST_API_KEY_INVALID_OPTION', message }, `plugin: ${name}`)
      await app.close()
    }
  })
})
