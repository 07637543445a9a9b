// The expiry policy (maxLifetime, defaultLifetime) and the sweep of idle
// keys (revokeIdle), on every database.
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import apiKeyPlugin, { createApiKeyManager } from '../src/index.ts'
import { FAST_SCRYPT, testManager } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'
import { withMethods } from './helpers/models.ts'
import { DAY, HOUR } from './helpers/time.ts'

const YEAR = 365 * DAY

eachDatabase(t, async (t, db) => {
  const model = db.prisma.apiKey
  const prisma = db.prisma

  t.test('a new key gets defaultLifetime, else maxLifetime, else never expires', async (t) => {
    const both = testManager(model, { maxLifetime: 90 * DAY, defaultLifetime: 30 * DAY })
    const max = testManager(model, { maxLifetime: 90 * DAY })
    const plain = testManager(model, { defaultLifetime: 2 * YEAR })
    const none = testManager(model)
    t.teardown(async () => { await Promise.all([both.close(), max.close(), plain.close(), none.close()]) })
    const expiresIn = async (m: typeof both, input: { expiresAt?: null }): Promise<number> => {
      const before = Date.now()
      const { apiKey } = await m.create({ name: 'defaulted', ...input })
      return (apiKey.expiresAt as Date).getTime() - before
    }
    const near = (t: Test, ms: number, expected: number, what: string): void => { t.ok(ms >= expected && ms < expected + 5_000, `${what}: ${ms}`) }
    near(t, await expiresIn(both, {}), 30 * DAY, 'defaultLifetime')
    near(t, await expiresIn(both, { expiresAt: null }), 30 * DAY, 'null is no expiry given: the default')
    near(t, await expiresIn(max, {}), 90 * DAY, 'no default: the maximum')
    near(t, await expiresIn(plain, {}), 2 * YEAR, 'without maxLifetime, just a default')
    t.equal((await none.create({ name: 'forever' })).apiKey.expiresAt, null, 'neither: never')
    const chosen = new Date(Date.now() + 10 * DAY)
    t.same((await both.create({ name: 'chosen', expiresAt: chosen })).apiKey.expiresAt, chosen, 'an expiry within the maximum is kept')
  })

  t.test('an expiry later than now + maxLifetime is refused', async (t) => {
    const m = testManager(model, { maxLifetime: 90 * DAY })
    t.teardown(() => m.close())
    const before = (await m.list()).total
    const refused = m.create({ name: 'too long', expiresAt: new Date(Date.now() + 91 * DAY) })
    t.ok(await refused.catch((err: unknown) => err instanceof TypeError), 'a TypeError, as INVALID_ARGUMENT is')
    await t.rejects(refused, {
      code: 'FST_API_KEY_LIFETIME_EXCEEDED',
      statusCode: 400,
      message: /^API keys may live at most 90d \(the maxLifetime option\): give an expiresAt up to \S+Z, or none to get the default$/
    })
    t.equal((await m.list()).total, before, 'nothing was created')
    const odd = testManager(model, { maxLifetime: HOUR + 1 })
    t.teardown(() => odd.close())
    await t.rejects(odd.create({ name: 'odd', expiresAt: new Date(Date.now() + 2 * HOUR) }), { message: /at most 3600001 ms / })
  })

  t.test('update cannot move expiresAt past createdAt + maxLifetime, nor to null', async (t) => {
    const m = testManager(model, { maxLifetime: 90 * DAY })
    t.teardown(() => m.close())
    const { apiKey } = await m.create({ name: 'bounded' })
    const created = apiKey.createdAt.getTime()
    await t.rejects(m.update(apiKey.id, { expiresAt: new Date(created + 90 * DAY + 1) }), {
      code: 'FST_API_KEY_LIFETIME_EXCEEDED',
      message: /at most 90d \(the maxLifetime option\): this key was created at \S+Z, so give an expiresAt up to \S+Z, or create a new key$/
    })
    await t.rejects(m.update(apiKey.id, { expiresAt: null }), {
      code: 'FST_API_KEY_LIFETIME_EXCEEDED',
      message: /a key cannot be made to never expire/
    })
    const shorter = new Date(created + 10 * DAY)
    t.same((await m.update(apiKey.id, { expiresAt: shorter })).expiresAt, shorter, 'an earlier expiry is fine')
    t.equal((await m.update(apiKey.id, { name: 'renamed' })).name, 'renamed', 'other changes need no read')
    await t.rejects(m.update('no-such-id', { expiresAt: shorter }), { code: 'FST_API_KEY_NOT_FOUND' })
    const { key } = await m.rotate(apiKey.id)
    t.same((await m.get(apiKey.id))?.expiresAt, shorter, 'rotation keeps the expiry')
    t.match(await m.verify(key), { valid: true })
  })

  t.test('revokeIdle: keys unused for unusedFor are revoked, recent ones kept', async (t) => {
    // With a pepper: a revoked key's HMAC goes with it.
    const m = testManager(model, { cacheTtl: 60_000, pepper: 'a pepper of at least thirty-two bytes' })
    t.teardown(() => m.close())
    const recent = await m.create({ name: 'used recently' })
    const oldUse = await m.create({ name: 'used long ago' })
    const neverUsed = await m.create({ name: 'never used, old' })
    const fresh = await m.create({ name: 'never used, new' })
    const gone = await m.create({ name: 'revoked already' })
    await m.revoke(gone.apiKey.id)
    const longAgo = new Date(Date.now() - 100 * DAY)
    await model.update({ where: { id: recent.apiKey.id }, data: { createdAt: longAgo, lastUsedAt: new Date(Date.now() - DAY) } })
    await model.update({ where: { id: oldUse.apiKey.id }, data: { createdAt: longAgo, lastUsedAt: new Date(Date.now() - 95 * DAY) } })
    await model.update({ where: { id: neverUsed.apiKey.id }, data: { createdAt: longAgo } })
    await model.update({ where: { id: gone.apiKey.id }, data: { createdAt: longAgo } })
    // In this manager's cache, as a key in use is; that use written, then made old again.
    t.match(await m.verify(oldUse.key), { valid: true })
    await m.flush()
    await model.update({ where: { id: oldUse.apiKey.id }, data: { lastUsedAt: new Date(Date.now() - 95 * DAY) } })

    const dry = await m.revokeIdle({ unusedFor: 90 * DAY, dryRun: true })
    t.same(dry.revoked.map((r) => r.name).sort(), ['never used, old', 'used long ago'])
    t.equal(dry.revoked.every((r) => !r.revoked && !('hashedKey' in r)), true, 'as found, without hashes')
    t.equal((await m.list({ status: 'revoked' })).total, 1, 'dryRun changes nothing')
    t.match(await m.verify(oldUse.key), { valid: true })

    const { revoked } = await m.revokeIdle({ unusedFor: 90 * DAY })
    t.same(revoked.map((r) => r.id).sort(), [oldUse.apiKey.id, neverUsed.apiKey.id].sort())
    t.same(revoked.map((r) => m.status(r)), ['revoked', 'revoked'])
    t.match(await m.verify(oldUse.key), { valid: false, reason: 'revoked' }, 'refused at once on this manager')
    t.equal((await model.findUniqueOrThrow({ where: { id: oldUse.apiKey.id } })).keyHmac, null)
    t.match(await m.verify(recent.key), { valid: true })
    t.match(await m.verify(fresh.key), { valid: true })
    t.same((await m.revokeIdle({ unusedFor: 90 * DAY })).revoked, [], 'nothing left to sweep')
  })

  t.test('revokeIdle works in batches, and spares a key used during the sweep', async (t) => {
    const real = model as any
    let usedMeanwhile: string | null = null
    const racing = withMethods(real, {
      updateMany: async (args: any) => {
        if (usedMeanwhile !== null && args.data.revoked === true) {
          await real.update({ where: { id: usedMeanwhile }, data: { lastUsedAt: new Date() } })
          usedMeanwhile = null
        }
        return await real.updateMany(args)
      }
    })
    const m = testManager(racing, { lastUsedInterval: 0 })
    t.teardown(() => m.close())
    await real.createMany({
      data: Array.from({ length: 501 }, (_, i) => ({ name: `batch ${i}`, prefix: `b${String(i).padStart(7, '0')}`, hashedKey: 'x', createdAt: new Date(Date.now() - 10 * DAY) }))
    })
    // The first id the sweep reaches: used while its first batch is revoked.
    const [first] = (await real.findMany({ where: { name: { startsWith: 'batch ' } }, select: { id: true } })).map((r: { id: string }) => r.id).sort()
    usedMeanwhile = first
    const { revoked } = await m.revokeIdle({ unusedFor: 7 * DAY })
    t.equal(revoked.length, 500, 'all but the one used meanwhile')
    t.notOk(revoked.some((r) => r.id === first))
    t.equal(await real.count({ where: { name: { startsWith: 'batch ' }, revoked: true } }), 500)
  })

  t.test('revokeIdle when the database fails: UNAVAILABLE, whichever statement failed', async (t) => {
    const real = model as any
    const lost = async (): Promise<never> => { throw Object.assign(new Error('connection lost'), { code: 'ECONNRESET' }) }
    const reading = testManager(withMethods(real, { findMany: lost }))
    const writing = testManager(withMethods(real, { updateMany: lost }))
    t.teardown(async () => { await Promise.all([reading.close(), writing.close()]) })
    await writing.create({ name: 'idle when the database went away' }).then(async ({ apiKey }) => await model.update({ where: { id: apiKey.id }, data: { createdAt: new Date(Date.now() - 30 * DAY) } }))
    await t.rejects(reading.revokeIdle({ unusedFor: DAY }), { code: 'FST_API_KEY_UNAVAILABLE' })
    await t.rejects(writing.revokeIdle({ unusedFor: DAY }), { code: 'FST_API_KEY_UNAVAILABLE' })
  })

  t.test('revokeIdle: unusedFor must be whole milliseconds, an hour or more', async (t) => {
    const m = testManager(model)
    t.teardown(() => m.close())
    for (const input of [{ unusedFor: HOUR - 1 }, { unusedFor: HOUR + 0.5 }, { unusedFor: '90d' }, {}, { unusedFor: DAY, dryRun: 'yes' }, { unusedFor: DAY, extra: 1 }, null]) {
      await t.rejects(m.revokeIdle(input as any), { code: 'FST_API_KEY_INVALID_ARGUMENT' }, JSON.stringify(input))
    }
  })

  t.test('the guide: the options on the plugin', async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    // docs/lifecycle.md: the options, on the plugin
    const DAY = 24 * 60 * 60 * 1000

    await app.register(apiKeyPlugin, {
      model: prisma.apiKey,
      // Every key expires within a year of its creation; one created without an expiry, in 90 days.
      maxLifetime: 365 * DAY,
      defaultLifetime: 90 * DAY
    })
    await app.ready()
    const before = Date.now()
    // docs/lifecycle.md: the default
    const { apiKey } = await app.apiKeys.create({ name: 'partner' })
    // apiKey.expiresAt is 90 days from now: the defaultLifetime
    const expires = (apiKey.expiresAt as Date).getTime()
    t.ok(expires >= before + 90 * DAY && expires <= Date.now() + 90 * DAY)
    await t.rejects(app.apiKeys.create({ name: 'partner', expiresAt: new Date(Date.now() + 2 * 365 * DAY) }), { code: 'FST_API_KEY_LIFETIME_EXCEEDED', message: /at most 1y/ })
  })

  t.test('the guide: a sweep script', async (t) => {
    const idle = testManager(prisma.apiKey)
    const { apiKey: old } = await idle.create({ name: 'forgotten' })
    await idle.close()
    await prisma.apiKey.update({ where: { id: old.id }, data: { createdAt: new Date(Date.now() - 100 * DAY) } })
    const lines: string[] = []
    const console = { log: (line: string) => { lines.push(line) } }
    // docs/lifecycle.md: the script
    const apiKeys = createApiKeyManager({ model: prisma.apiKey })
    try {
      const { revoked } = await apiKeys.revokeIdle({ unusedFor: 90 * 24 * 60 * 60 * 1000 })
      for (const apiKey of revoked) {
        console.log(`revoked ${apiKey.prefix} "${apiKey.name}", last used ${apiKey.lastUsedAt?.toISOString() ?? 'never'}`)
      }
    } finally {
      await apiKeys.close()
    }
    t.same(lines, [`revoked ${old.prefix} "forgotten", last used never`])
    t.equal((await prisma.apiKey.findUniqueOrThrow({ where: { id: old.id } })).revoked, true)
  })
})

t.test('the lifetime options are checked at construction', async (t) => {
  const model = { create: () => {}, findUnique: () => {}, findMany: () => {}, count: () => {}, update: () => {}, updateMany: () => {} } as any
  const build = (options: object): unknown => createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, ...options })
  for (const [options, message] of [
    [{ maxLifetime: 0 }, /^Invalid option maxLifetime: expected an integer from 60000 to 315360000000/],
    [{ maxLifetime: 11 * YEAR }, /^Invalid option maxLifetime/],
    [{ maxLifetime: 1.5 }, /^Invalid option maxLifetime/],
    [{ maxLifetime: null }, /^Invalid option maxLifetime/],
    [{ defaultLifetime: '30d' }, /^Invalid option defaultLifetime: expected an integer/],
    [{ maxLifetime: 30 * DAY, defaultLifetime: 31 * DAY }, /^Invalid option defaultLifetime: must be at most maxLifetime \(2592000000\)/]
  ] as const) {
    t.throws(() => build(options), { code: 'FST_API_KEY_INVALID_OPTION', message }, JSON.stringify(options))
  }
})
