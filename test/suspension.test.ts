// Suspension (`suspension: true`): disable(id) stops a key until enable(id),
// beside revocation, which is permanent. A disabled key is refused once its
// secret matched (401 FST_API_KEY_DISABLED); a guesser learns nothing.
import t from 'tap'
import { createApiKeyManager } from '../src/index.ts'
import { auth, buildApp, testManager } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'
import { wrongSecret } from './helpers/keys.ts'

eachDatabase(t, async (t, db) => {
  t.test('the guide\'s example', async (t) => {
    const { prisma } = db
    // docs/usage.md: suspension
    const manager = createApiKeyManager({ model: prisma.apiKey, suspension: true })
    const { apiKey, key } = await manager.create({ name: 'partner: Initech' })
    await manager.disable(apiKey.id)
    const refused = await manager.verify(key) // { valid: false, reason: 'disabled' }
    await manager.enable(apiKey.id)
    const accepted = await manager.verify(key) // { valid: true, apiKey }
    await manager.close()
    t.same(refused, { valid: false, reason: 'disabled' })
    t.match(accepted, { valid: true, apiKey: { id: apiKey.id, disabled: false } })
  })

  t.test('disable refuses a key at once on this instance, enable restores it', async (t) => {
    const app = await buildApp(db, { suspension: true })
    t.teardown(() => app.close())
    const { apiKey, key } = await app.apiKeys.create({ name: 'partner' })
    const call = async (presented: string) => await app.inject({ url: '/protected', headers: auth(presented) })
    t.equal((await call(key)).statusCode, 200, 'warm: the key is in memory now')

    const disabled = await app.apiKeys.disable(apiKey.id)
    t.equal(disabled.disabled, true)
    t.equal(app.apiKeys.status(disabled), 'disabled')
    t.same(app.apiKeys.verifyCached(key), null, 'no answer from a copy read before the change')
    const refused = await call(key)
    t.equal(refused.statusCode, 401)
    t.same(refused.json(), { statusCode: 401, code: 'FST_API_KEY_DISABLED', error: 'Unauthorized', message: 'API key has been disabled' })
    t.match(refused.headers['www-authenticate'], /error="invalid_key"/)
    t.same(app.apiKeys.verifyCached(key), { valid: false, reason: 'disabled' }, 'the warm path refuses it too')
    t.equal((await call(wrongSecret(key))).json().code, 'FST_API_KEY_INVALID', 'a wrong secret learns nothing of the state')

    t.same((await app.apiKeys.list({ status: 'disabled' })).items.map((k) => k.id), [apiKey.id])
    t.notOk((await app.apiKeys.list({ status: 'active' })).items.some((k) => k.id === apiKey.id), 'not listed as active')

    const enabled = await app.apiKeys.enable(apiKey.id)
    t.equal(enabled.disabled, false)
    t.equal(app.apiKeys.status(enabled), 'active')
    t.equal((await call(key)).statusCode, 200)
    t.same((await app.apiKeys.list({ status: 'disabled' })).items, [])
  })

  t.test('revocation wins and is permanent; a disabled key past its expiry reads disabled', async (t) => {
    const manager = testManager(db.prisma.apiKey, { suspension: true })
    t.teardown(() => manager.close())
    const { apiKey, key } = await manager.create({ name: 'leaving partner' })
    await manager.disable(apiKey.id)
    const revoked = await manager.revoke(apiKey.id)
    t.equal(manager.status(revoked), 'revoked')
    t.same(await manager.verify(key), { valid: false, reason: 'revoked' })
    await t.rejects(manager.enable(apiKey.id), { code: 'FST_API_KEY_ENABLE_REVOKED', statusCode: 409 })
    await t.rejects(manager.update(apiKey.id, { disabled: false }), { code: 'FST_API_KEY_ENABLE_REVOKED' }, 'nor through update')
    t.equal((await manager.get(apiKey.id))?.disabled, true, 'nothing was written')
    t.same((await manager.list({ status: 'disabled' })).items, [], 'a revoked key is listed as revoked only')

    const old = await manager.create({ name: 'old partner', expiresAt: new Date(Date.now() + 60_000) })
    const both = await manager.disable(old.apiKey.id)
    t.equal(manager.status({ ...both, expiresAt: new Date(Date.now() - 1) }), 'disabled', 'disabled before expired')

    await t.rejects(manager.disable('no-such-id'), { code: 'FST_API_KEY_NOT_FOUND' })
    await t.rejects(manager.enable('no-such-id'), { code: 'FST_API_KEY_NOT_FOUND' })
    await t.rejects(manager.update(old.apiKey.id, { disabled: 'yes' }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /disabled: expected a boolean/ })
  })

  t.test('another instance refuses the key once it reads the row again', async (t) => {
    const a = testManager(db.prisma.apiKey, { suspension: true })
    const b = testManager(db.prisma.apiKey, { suspension: true, cacheTtl: 0 })
    t.teardown(async () => { await a.close(); await b.close() })
    const { apiKey, key } = await a.create({ name: 'shared' })
    t.equal((await b.verify(key)).valid, true)
    await a.disable(apiKey.id)
    t.same(await b.verify(key), { valid: false, reason: 'disabled' })
    await a.enable(apiKey.id)
    t.equal((await b.verify(key)).valid, true)
  })

  t.test('without the option: no disable, but a row disabled elsewhere is still refused', async (t) => {
    const manager = testManager(db.prisma.apiKey)
    t.teardown(() => manager.close())
    const { apiKey, key } = await manager.create({ name: 'plain' })
    await t.rejects(manager.disable(apiKey.id), { code: 'FST_API_KEY_FEATURE_OFF', message: /suspension: true/ })
    await t.rejects(manager.enable(apiKey.id), { code: 'FST_API_KEY_FEATURE_OFF' })
    await t.rejects(manager.list({ status: 'disabled' }), { code: 'FST_API_KEY_FEATURE_OFF' })
    await t.rejects(manager.update(apiKey.id, { disabled: true }), { code: 'FST_API_KEY_FEATURE_OFF' })
    t.same(manager.statuses, ['active', 'revoked', 'expired'])
    // Another instance (or SQL) with the feature on disabled it: fail closed.
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { disabled: true } })
    t.same(await manager.verify(key), { valid: false, reason: 'disabled' })
  })
})

t.test('the option takes a boolean', async (t) => {
  t.throws(() => testManager(fakeModel(), { suspension: 'yes' as never }), { code: 'FST_API_KEY_INVALID_OPTION', message: /^Invalid option suspension: expected true/ })
  const manager = testManager(fakeModel(), { suspension: true })
  t.same(manager.statuses, ['active', 'disabled', 'revoked', 'expired'])
  await manager.close()
})

function fakeModel (): never {
  const method = async (): Promise<null> => null
  return { create: method, findUnique: method, findMany: method, count: method, update: method, updateMany: method } as never
}
