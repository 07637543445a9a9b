// IP allowlists (`ipAllowlist: true`): a key listing addresses or CIDR
// ranges is refused from anywhere else, with 403 FST_API_KEY_IP_NOT_ALLOWED
// once its secret matched. The plugin checks request.ip, so Fastify's
// trustProxy decides what the client's address is.
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin, { createApiKeyManager } from '../src/index.ts'
import { IpAllowlist, MAX_ALLOWLIST_LENGTH, readAllowlist } from '../src/ip-allowlist.ts'
import { auth, FAST_SCRYPT, testManager } from './helpers/app.ts'
import { eachDatabase, openDatabase } from './helpers/databases.ts'
import { wrongSecret } from './helpers/keys.ts'

t.test('reading a caller\'s list', async (t) => {
  t.same(readAllowlist(['203.0.113.7', '10.0.0.0/8']), { value: '203.0.113.7 10.0.0.0/8' })
  t.same(readAllowlist(' 203.0.113.7, 2001:DB8::/32  10.0.0.0/8,'), { value: '203.0.113.7 2001:db8::/32 10.0.0.0/8' }, 'commas or spaces; IPv6 in lower case')
  t.same(readAllowlist(['::ffff:192.0.2.1', '192.0.2.1', '::FFFF:198.51.100.0/24']), { value: '192.0.2.1 198.51.100.0/24' }, 'IPv4-mapped IPv6 is IPv4; duplicates go')
  t.same(readAllowlist(null), { value: null }, 'null is anywhere')
  for (const bad of ['10.0.0.256', '10.0.0.0/33', '2001:db8::/129', 'localhost', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/-1', '1.2.3.4/08x']) {
    t.match(readAllowlist([bad]), { problem: /is not an IPv4 or IPv6 address or CIDR range/ }, bad)
  }
  for (const empty of [[], '', ' , ']) t.match(readAllowlist(empty), { problem: /an empty list would refuse every address/ }, JSON.stringify(empty))
  for (const wrong of [42, { ip: '1.2.3.4' }, [1], undefined]) t.match(readAllowlist(wrong), { problem: /^expected addresses or CIDR ranges/ }, String(wrong))
  const many = Array.from({ length: 100 }, (_, i) => `2001:db8::${i.toString(16)}/128`)
  t.ok(many.join(' ').length > MAX_ALLOWLIST_LENGTH)
  t.match(readAllowlist(many), { problem: /at most 1000 characters/ })
})

t.test('matching a request\'s address', async (t) => {
  const list = new IpAllowlist('203.0.113.7 10.0.0.0/8 2001:db8::/32')
  for (const ip of ['203.0.113.7', '10.1.2.3', '::ffff:10.1.2.3', '2001:db8::1', '2001:DB8:0:0::5']) t.ok(list.allows(ip), ip)
  for (const ip of ['203.0.113.8', '11.0.0.1', '::ffff:11.0.0.1', '2001:db9::1', '::1', 'not an ip', '', undefined]) t.notOk(list.allows(ip), String(ip))
  for (let i = 0; i < 200; i++) t.equal(list.allows(`10.0.${i}.1`), true)
  t.ok(list.allows('10.9.9.9'), 'past the remembered answers, still right')
  t.notOk(list.allows('12.0.0.1'))
  t.notOk(new IpAllowlist('10.0.0.0/8 junk').allows('10.0.0.1'), 'a stored value that does not parse allows nothing')
})

eachDatabase(t, async (t, db) => {
  t.test('the guide\'s example', async (t) => {
    const { prisma } = db
    // docs/usage.md: ip-allowlists
    const manager = createApiKeyManager({ model: prisma.apiKey, ipAllowlist: true })
    const { apiKey, key } = await manager.create({ name: 'warehouse', allowedIps: ['203.0.113.0/24', '2001:db8::/32'] })
    const inside = await manager.verify(key, '203.0.113.9') // { valid: true, apiKey }
    const outside = await manager.verify(key, '198.51.100.1') // { valid: false, reason: 'ip_not_allowed' }
    await manager.update(apiKey.id, { allowedIps: null }) // from anywhere again
    await manager.close()
    t.match(inside, { valid: true, apiKey: { id: apiKey.id, allowedIps: '203.0.113.0/24 2001:db8::/32' } })
    t.same(outside, { valid: false, reason: 'ip_not_allowed' })
    t.equal((await prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).allowedIps, null)
  })

  t.test('the plugin refuses a key from an address it does not list', async (t) => {
    // trustProxy: the test sets the client's address with X-Forwarded-For.
    const app = Fastify({ trustProxy: true })
    t.teardown(() => app.close())
    await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, ipAllowlist: true })
    app.get('/protected', { config: { apiKey: true } }, async (request) => ({ ip: request.ip }))
    await app.ready()
    const from = async (key: string, ip: string) => await app.inject({ url: '/protected', headers: { ...auth(key), 'x-forwarded-for': ip } })

    const { apiKey, key } = await app.apiKeys.create({ name: 'office', allowedIps: ['203.0.113.0/24', '2001:db8::/32'] })
    t.equal(apiKey.allowedIps, '203.0.113.0/24 2001:db8::/32')
    t.equal((await from(key, '203.0.113.9')).statusCode, 200)
    t.equal((await from(key, '203.0.113.9')).statusCode, 200, 'warm')
    t.equal((await from(key, '::ffff:203.0.113.9')).statusCode, 200, 'IPv4-mapped')
    t.equal((await from(key, '2001:db8::7')).statusCode, 200)
    const refused = await from(key, '198.51.100.1')
    t.same(refused.json(), { statusCode: 403, code: 'FST_API_KEY_IP_NOT_ALLOWED', error: 'Forbidden', message: 'API key is not allowed from this address' })
    t.equal(refused.headers['www-authenticate'], undefined, 'a 403: the key is good, the place is not')
    t.equal((await from(wrongSecret(key), '198.51.100.1')).json().code, 'FST_API_KEY_INVALID', 'only once the secret matched')
    t.same(await app.apiKeys.verify(key), { valid: false, reason: 'ip_not_allowed' }, 'verify without an address refuses a listed key')
    t.same(await app.apiKeys.verify(key, '203.0.113.1'), { valid: true, apiKey: await app.apiKeys.get(apiKey.id) })
    t.same(app.apiKeys.verifyCached(key, '198.51.100.1'), { valid: false, reason: 'ip_not_allowed' })

    await app.apiKeys.update(apiKey.id, { allowedIps: '198.51.100.1' })
    t.equal((await from(key, '198.51.100.1')).statusCode, 200, 'a change applies at once on this instance')
    t.equal((await from(key, '203.0.113.9')).statusCode, 403)
    await app.apiKeys.update(apiKey.id, { allowedIps: null })
    t.equal((await from(key, '192.0.2.200')).statusCode, 200, 'null: from anywhere')
    t.equal((await app.apiKeys.verify(key)).valid, true, 'and without an address')

    await t.rejects(app.apiKeys.update(apiKey.id, { allowedIps: ['10.0.0.300'] }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /allowedIps: "10.0.0.300" is not an IPv4/ })
    await t.rejects(app.apiKeys.create({ name: 'x', allowedIps: [] }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /an empty list/ })
    t.equal((await app.apiKeys.get(apiKey.id))?.allowedIps, null, 'a refused update writes nothing')
  })

  t.test('another instance reads the list with the row', async (t) => {
    const a = testManager(db.prisma.apiKey, { ipAllowlist: true })
    const b = testManager(db.prisma.apiKey, { cacheTtl: 0 })
    t.teardown(async () => { await a.close(); await b.close() })
    const { apiKey, key } = await a.create({ name: 'shared' })
    t.equal((await b.verify(key)).valid, true)
    await a.update(apiKey.id, { allowedIps: '10.0.0.0/8' })
    t.same(await b.verify(key, '192.0.2.1'), { valid: false, reason: 'ip_not_allowed' }, 'without the option, a listed row is still enforced: fail closed')
    t.equal((await b.verify(key, '10.2.3.4')).valid, true)
    await t.rejects(b.update(apiKey.id, { allowedIps: null }), { code: 'FST_API_KEY_FEATURE_OFF', message: /ipAllowlist: true/ })
    await t.rejects(b.create({ name: 'y', allowedIps: '10.0.0.1' }), { code: 'FST_API_KEY_FEATURE_OFF' })
  })
})

t.test('the option takes a boolean', async (t) => {
  const method = async (): Promise<null> => null
  const model = { create: method, findUnique: method, findMany: method, count: method, update: method, updateMany: method } as never
  t.throws(() => testManager(model, { ipAllowlist: 1 as never }), { code: 'FST_API_KEY_INVALID_OPTION', message: /^Invalid option ipAllowlist: expected true/ })
})

t.test('over a real socket: a dual-stack server sees an IPv4 client as IPv4-mapped IPv6', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, ipAllowlist: true })
  app.get('/protected', { config: { apiKey: true } }, async (request) => ({ ip: request.ip }))
  await app.listen({ host: '::', port: 0 })
  const { port } = app.server.address() as { port: number }
  const here = await app.apiKeys.create({ name: 'here', allowedIps: '127.0.0.1' })
  const elsewhere = await app.apiKeys.create({ name: 'elsewhere', allowedIps: '10.0.0.0/8' })
  const get = async (key: string) => await fetch(`http://127.0.0.1:${port}/protected`, { headers: auth(key) })
  const ok = await get(here.key)
  t.equal(ok.status, 200)
  t.same(await ok.json(), { ip: '::ffff:127.0.0.1' }, 'the address Fastify reports')
  t.equal((await get(elsewhere.key)).status, 403)
})
