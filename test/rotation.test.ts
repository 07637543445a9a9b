// rotate(id, { gracePeriod }): a new secret for the same key; the old one
// works until the grace period ends, then never again. Time is faked (Date
// only: timers stay real so the database drivers work). The blocks between
// "docs/rotation.md" markers are the guide's examples, word for word.
import FakeTimers from '@sinonjs/fake-timers'
import t from 'tap'
import { HOUR } from './helpers/time.ts'
import { auth, buildApp } from './helpers/app.ts'
import { eachDatabase, openDatabase } from './helpers/databases.ts'
import { wrongSecret } from './helpers/keys.ts'
import { withMethods } from './helpers/models.ts'

eachDatabase(t, async (t, db) => {
  const clock = FakeTimers.install({ toFake: ['Date'], now: new Date('2026-11-29T12:00:00Z') })
  t.teardown(() => clock.uninstall())
  const fastify = await buildApp(db)
  t.teardown(() => fastify.close())
  const status = async (key: string): Promise<number> => (await fastify.inject({ url: '/protected', headers: auth(key) })).statusCode
  const code = async (key: string): Promise<string> => (await fastify.inject({ url: '/protected', headers: auth(key) })).json().code

  t.test('the old secret works through the grace period, then never again', async (t) => {
    const created = await fastify.apiKeys.create({ name: 'partner', scopes: ['orders:read'] })
    const oldKey = created.key
    const id = created.apiKey.id
    t.equal(await status(oldKey), 200, 'verified once: now in the cache')
    // docs/rotation.md: rotate
    const { key, apiKey } = await fastify.apiKeys.rotate(id, { gracePeriod: 24 * HOUR })
    // `key` is shown once, like at create; hand it to the client now.
    // end
    t.not(key, oldKey)
    t.same({ id: apiKey.id, name: apiKey.name, prefix: apiKey.prefix, scopes: apiKey.scopes }, { id, name: 'partner', prefix: created.apiKey.prefix, scopes: 'orders:read' }, 'same key: id, name, prefix, scopes')
    t.same(apiKey.previousKeyExpiresAt, new Date(Date.now() + 24 * HOUR))
    t.notOk('hashedKey' in apiKey || 'previousHashedKey' in apiKey, 'no hash in the record')
    t.equal(await status(key), 200, 'the new key works at once')
    t.equal(await status(oldKey), 200, 'the old one too, during the grace period')
    clock.tick(24 * HOUR - 1)
    t.equal(await status(oldKey), 200, 'until the last millisecond')
    clock.tick(1)
    t.equal(await code(oldKey), 'FST_API_KEY_INVALID', 'then never again, even though it was cached')
    t.equal(await status(key), 200)
    clock.tick(365 * 24 * HOUR)
    t.equal(await code(oldKey), 'FST_API_KEY_INVALID')
    t.equal((await fastify.apiKeys.get(id))?.previousKeyExpiresAt?.getTime(), new Date('2026-11-29T12:00:00Z').getTime() + 24 * HOUR)
  })

  t.test('without a grace period the old secret stops at once', async (t) => {
    const created = await fastify.apiKeys.create({ name: 'leaked' })
    t.equal(await status(created.key), 200)
    // docs/rotation.md: leaked
    const { key } = await fastify.apiKeys.rotate(created.apiKey.id)
    // end
    t.equal(await code(created.key), 'FST_API_KEY_INVALID')
    t.equal(await status(key), 200)
  })

  t.test('a second rotation ends the first one\'s old secret at once', async (t) => {
    const first = await fastify.apiKeys.create({ name: 'twice' })
    const second = await fastify.apiKeys.rotate(first.apiKey.id, { gracePeriod: HOUR })
    const third = await fastify.apiKeys.rotate(first.apiKey.id, { gracePeriod: HOUR })
    t.equal(await code(first.key), 'FST_API_KEY_INVALID', 'only one previous secret is kept')
    t.equal(await status(second.key), 200, 'the one just replaced keeps its grace period')
    t.equal(await status(third.key), 200)
  })

  t.test('wrong secrets fail during the grace period too', async (t) => {
    const created = await fastify.apiKeys.create({ name: 'guessed' })
    const { key } = await fastify.apiKeys.rotate(created.apiKey.id, { gracePeriod: HOUR })
    t.equal(await code(wrongSecret(key)), 'FST_API_KEY_INVALID')
  })

  t.test('revoking ends both secrets; a revoked key cannot be rotated', async (t) => {
    const created = await fastify.apiKeys.create({ name: 'to revoke' })
    const { key } = await fastify.apiKeys.rotate(created.apiKey.id, { gracePeriod: HOUR })
    await fastify.apiKeys.revoke(created.apiKey.id)
    t.equal(await code(key), 'FST_API_KEY_REVOKED')
    t.equal(await code(created.key), 'FST_API_KEY_REVOKED')
    await t.rejects(fastify.apiKeys.rotate(created.apiKey.id), { code: 'FST_API_KEY_NOT_ROTATABLE', statusCode: 409 })
  })

  t.test('wrong arguments fail with a coded error', async (t) => {
    const created = await fastify.apiKeys.create({ name: 'args' })
    await t.rejects(fastify.apiKeys.rotate('no-such-id'), { code: 'FST_API_KEY_NOT_FOUND' })
    await t.rejects(fastify.apiKeys.rotate(''), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /id/ })
    for (const gracePeriod of [-1, 1.5, '1h', 366 * 24 * HOUR]) {
      await t.rejects(fastify.apiKeys.rotate(created.apiKey.id, { gracePeriod } as any), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /gracePeriod: expected milliseconds/ }, String(gracePeriod))
    }
    await t.rejects(fastify.apiKeys.rotate(created.apiKey.id, 'soon' as any), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /input/ })
    t.equal(await status(created.key), 200, 'nothing changed')
    await t.rejects(fastify.apiKeys.update(created.apiKey.id, { previousKeyExpiresAt: new Date() }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /is set by the library/ })
  })

  t.test('concurrent rotations: every call returns a key, and the last one written wins', async (t) => {
    const created = await fastify.apiKeys.create({ name: 'raced' })
    const results = await Promise.allSettled(Array.from({ length: 4 }, async () => await fastify.apiKeys.rotate(created.apiKey.id)))
    const keys = results.flatMap((r) => r.status === 'fulfilled' ? [r.value.key] : [])
    for (const r of results) if (r.status === 'rejected') t.match(r.reason, { code: 'FST_API_KEY_ROTATE_CONFLICT' })
    t.ok(keys.length >= 1, `${keys.length} of 4 rotations returned a key`)
    const working = []
    for (const k of keys) if (await status(k) === 200) working.push(k)
    t.equal(working.length, 1, 'exactly one of the returned keys works: no secret is lost in between')
  })

  t.test('another instance with the old row cached accepts the new secret at once', async (t) => {
    const other = await buildApp(db)
    t.teardown(() => other.close())
    const created = await fastify.apiKeys.create({ name: 'two instances' })
    t.equal((await other.inject({ url: '/protected', headers: auth(created.key) })).statusCode, 200, 'cached on the other instance')
    const { key } = await fastify.apiKeys.rotate(created.apiKey.id, { gracePeriod: HOUR })
    t.equal((await other.inject({ url: '/protected', headers: auth(key) })).statusCode, 200, 'a mismatch re-reads the row once')
    t.equal((await other.inject({ url: '/protected', headers: auth(created.key) })).statusCode, 200, 'and the old one is in its grace period')
  })
})

t.test('a rotation overtaken five times gives up with a coded error and changes nothing', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  let attempts = 0
  // Every compare-and-set finds another hash in place, as if a concurrent rotation always won.
  const model = withMethods(db.prisma.apiKey as any, { updateMany: async () => { attempts++; return { count: 0 } } })
  const fastify = await buildApp(db, { model, lastUsedInterval: 0 })
  t.teardown(() => fastify.close())
  const { apiKey, key } = await fastify.apiKeys.create({ name: 'contended' })
  await t.rejects(fastify.apiKeys.rotate(apiKey.id), { code: 'FST_API_KEY_ROTATE_CONFLICT', statusCode: 409, message: /5 attempts/ })
  t.equal(attempts, 5)
  t.equal((await fastify.inject({ url: '/protected', headers: auth(key) })).statusCode, 200, 'the key keeps its secret')
})

t.test('a key deleted in the middle of its rotation is not found, and no key is returned', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const real = db.prisma.apiKey as any
  // The row goes away right after the new hash is written, before it is read back.
  const model = withMethods(real, {
    updateMany: async (args: any) => {
      const result = await real.updateMany(args)
      await real.delete({ where: { id: args.where.id } })
      return result
    }
  })
  const fastify = await buildApp(db, { model, lastUsedInterval: 0 })
  t.teardown(() => fastify.close())
  const { apiKey } = await fastify.apiKeys.create({ name: 'deleted meanwhile' })
  await t.rejects(fastify.apiKeys.rotate(apiKey.id), { code: 'FST_API_KEY_NOT_FOUND' })
})
