// Scopes: what a key may do, checked per route. The blocks between the
// "docs/scopes.md" markers are the guide's examples, word for word
// (test/docs.test.ts checks that they stay so).
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin, { hasScope } from '../src/index.ts'
import { missingScope, parseScopes, serializeScopes } from '../src/scopes.ts'
import { auth, FAST_SCRYPT } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'

t.test('wildcards grant a resource, * grants everything, names match exactly', async (t) => {
  const key = (scopes: string): { scopes: string } => ({ scopes })
  t.equal(missingScope(key('orders:read'), ['orders:read']), null)
  t.equal(missingScope(key('orders:read'), ['orders:write']), 'orders:write')
  t.equal(missingScope(key('orders:*'), ['orders:write', 'orders:refunds:create']), null)
  t.equal(missingScope(key('orders:*'), ['orders']), 'orders', 'orders:* is what is under orders, not orders itself')
  t.equal(missingScope(key('orders:*'), ['ordersx:read']), 'ordersx:read', 'no match across a word boundary')
  t.equal(missingScope(key('*'), ['anything:at:all']), null)
  t.equal(missingScope(key(''), ['orders:read']), 'orders:read')
  t.equal(missingScope(key('a b'), ['a', 'b', 'c']), 'c', 'the first scope missing is named')
  t.equal(missingScope(key('Orders:read'), ['orders:read']), 'orders:read', 'case-sensitive')
  t.equal(missingScope(key('a'), []), null)
  t.ok(hasScope({ scopes: 'orders:*' }, 'orders:read'))
  t.notOk(hasScope({ scopes: 'orders:read' }, 'orders:write'))
})

t.test('scopes are stored as one space-separated string', async (t) => {
  t.same(serializeScopes(['b', 'a:*', 'b', '*']), { value: 'b a:* *' }, 'duplicates dropped, order kept')
  t.same(serializeScopes([]), { value: '' })
  t.same(parseScopes(''), [])
  t.same(parseScopes(null), [])
  t.same(parseScopes('a b:c'), ['a', 'b:c'])
  for (const bad of ['', 'orders read', 'orders:', ':read', 'orders:*:x', '*:read', 'ordres\n', 42, null]) {
    t.match(serializeScopes([bad]), { problem: /is not a scope/ }, JSON.stringify(bad))
  }
  t.match(serializeScopes('orders:read'), { problem: /expected an array/ })
  t.match(serializeScopes(Array.from({ length: 100 }, (_, i) => `scope${i}:${'x'.repeat(10)}`)), { problem: /at most 1000 characters/ })
})

eachDatabase(t, async (t, db) => {
  const fastify = Fastify()
  await fastify.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
  const listOrders = (apiKey: unknown): unknown => ({ orders: [], for: (apiKey as { name: string }).name })
  const createOrder = (body: unknown): unknown => ({ created: body })
  // docs/scopes.md: routes
  fastify.get('/orders', { config: { apiKey: { scopes: ['orders:read'] } } }, async (request) => {
    return listOrders(request.apiKey)
  })

  fastify.post('/orders', { config: { apiKey: { scopes: ['orders:write'] } } }, async (request) => {
    return createOrder(request.body)
  })
  // end
  // docs/scopes.md: hasScope
  fastify.get('/invoices/:id', { config: { apiKey: true } }, async (request) => {
    const invoice = { id: (request.params as { id: string }).id, total: 42, notes: 'internal' }
    // Everyone with a key sees the total; only finance keys see the notes.
    return hasScope(request.apiKey!, 'invoices:notes') ? invoice : { ...invoice, notes: undefined }
  })
  // end
  await fastify.ready()
  t.teardown(() => fastify.close())

  // docs/scopes.md: create
  const { key } = await fastify.apiKeys.create({ name: 'warehouse', scopes: ['orders:read', 'orders:write'] })
  const reader = await fastify.apiKeys.create({ name: 'reporting', scopes: ['orders:read'] })
  const admin = await fastify.apiKeys.create({ name: 'back office', scopes: ['orders:*', 'invoices:*'] })
  // end
  const call = async (method: 'GET' | 'POST', url: string, k: string) => await fastify.inject({ method, url, headers: auth(k), payload: method === 'POST' ? {} : undefined })

  t.test('a key with the scope passes, one without gets 403 naming the scope', async (t) => {
    t.equal((await call('GET', '/orders', key)).statusCode, 200)
    t.equal((await call('POST', '/orders', key)).statusCode, 200)
    t.equal((await call('GET', '/orders', reader.key)).statusCode, 200)
    const res = await call('POST', '/orders', reader.key)
    t.equal(res.statusCode, 403)
    t.same(res.json(), { statusCode: 403, code: 'FST_API_KEY_MISSING_SCOPE', error: 'Forbidden', message: 'API key lacks the scope orders:write' })
    t.equal((await call('POST', '/orders', admin.key)).statusCode, 200, 'orders:* covers orders:write')
  })

  t.test('a key without scopes passes routes that ask for none, and no others', async (t) => {
    const plain = await fastify.apiKeys.create({ name: 'plain' })
    t.equal(plain.apiKey.scopes, '')
    t.equal((await call('GET', '/invoices/1', plain.key)).statusCode, 200)
    t.equal((await call('GET', '/orders', plain.key)).json().message, 'API key lacks the scope orders:read')
  })

  t.test('hasScope in a handler', async (t) => {
    t.equal((await call('GET', '/invoices/1', admin.key)).json().notes, 'internal')
    t.equal((await call('GET', '/invoices/1', key)).json().notes, undefined)
  })

  t.test('scopes survive the database as given, and change with update', async (t) => {
    const [row] = await db.query(`SELECT scopes FROM ${db.provider === 'mysql' ? '`ApiKey`' : '"ApiKey"'} WHERE id = '${admin.apiKey.id}'`)
    t.equal(row.scopes, 'orders:* invoices:*')
    const updated = await fastify.apiKeys.update(reader.apiKey.id, { scopes: ['orders:read', 'orders:write'] })
    t.equal(updated.scopes, 'orders:read orders:write')
    t.equal((await call('POST', '/orders', reader.key)).statusCode, 200, 'at once on this instance')
    await fastify.apiKeys.update(reader.apiKey.id, { scopes: [] })
    t.equal((await call('GET', '/orders', reader.key)).statusCode, 403, 'taken away at once too')
  })

  t.test('bad scopes are refused with a coded error and nothing is written', async (t) => {
    const before = (await fastify.apiKeys.list()).total
    await t.rejects(fastify.apiKeys.create({ name: 'x', scopes: ['orders read'] }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /Invalid argument scopes: "orders read" is not a scope/ })
    await t.rejects(fastify.apiKeys.create({ name: 'x', scopes: 'orders:read' as any }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /expected an array/ })
    await t.rejects(fastify.apiKeys.update(reader.apiKey.id, { scopes: ['x:'] }), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
    t.equal((await fastify.apiKeys.list()).total, before)
  })

  t.test('the longest scope list fits every database', async (t) => {
    const scopes = Array.from({ length: 90 }, (_, i) => `scope${String(i).padStart(2, '0')}:${'x'.repeat(2)}`)
    const long = await fastify.apiKeys.create({ name: 'many scopes', scopes })
    t.ok(long.apiKey.scopes.length > 900 && long.apiKey.scopes.length <= 1000, `${long.apiKey.scopes.length} characters`)
    t.equal((await fastify.apiKeys.get(long.apiKey.id))?.scopes, scopes.join(' '))
  })
})
