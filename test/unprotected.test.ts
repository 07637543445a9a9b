// A route that asks for a key (config.apiKey) but that no registration of the
// plugin reaches stops the app at startup: it is never served open.
import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import apiKeyPlugin from '../src/index.ts'
import { FAST_SCRYPT } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'

const db = await openDatabase('sqlite')
t.teardown(() => db.close())
const options = { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 }
const handler = async (): Promise<string> => 'served'

async function refused (t: Test, app: FastifyInstance, routes: RegExp): Promise<void> {
  t.teardown(() => app.close())
  await t.rejects(async () => await app.ready(), { code: 'FST_API_KEY_UNPROTECTED_ROUTE', message: routes })
  await t.rejects(async () => await app.listen({ port: 0, host: '127.0.0.1' }), { code: 'FST_API_KEY_UNPROTECTED_ROUTE' }, 'the server does not listen')
}

t.test('a route added before the plugin, register not awaited', async (t) => {
  const app = Fastify()
  app.register(apiKeyPlugin, options)
  app.get('/x', { config: { apiKey: true } }, handler)
  await refused(t, app, /GET \/x \(config\.apiKey\), HEAD \/x \(config\.apiKey\).*Register the plugin \(with the decorator each names\) before adding these routes/)
})

t.test('a route added before register', async (t) => {
  const app = Fastify()
  app.get('/x', { config: { apiKey: { optional: true } } }, handler)
  await app.register(apiKeyPlugin, options)
  await refused(t, app, /GET \/x \(config\.apiKey\)/)
})

t.test('routes of a plugin registered before the key plugin', async (t) => {
  const app = Fastify()
  app.register(async (routes) => { routes.get('/x', { config: { apiKey: { scopes: ['orders:read'] } } }, handler) })
  app.register(apiKeyPlugin, options)
  await refused(t, app, /GET \/x \(config\.apiKey\)/)
})

t.test('a route in a scope the registration does not reach, before or after it', async (t) => {
  const app = Fastify()
  app.register(async (before) => { before.post('/before', { config: { apiKey: true } }, handler) })
  app.register(async (api) => {
    await api.register(apiKeyPlugin, options)
    api.get('/reached', { config: { apiKey: true } }, handler)
  })
  app.register(async (after) => { after.put('/x', { config: { apiKey: true } }, handler) })
  await refused(t, app, /^Routes ask for an API key that no registration of fastify-prisma-api-key reaches: POST \/before \(config\.apiKey\), PUT \/x \(config\.apiKey\)\. /)
})

t.test('a custom decorator is checked the same way', async (t) => {
  const app = Fastify()
  app.register(async (api) => { await api.register(apiKeyPlugin, { ...options, decorator: 'partnerKey' }) })
  app.register(async (other) => { other.delete('/x', { config: { partnerKey: true } }, handler) })
  await refused(t, app, /DELETE \/x \(config\.partnerKey\)/)
})

t.test('config.apiKey with no registration at all', async (t) => {
  const app = Fastify()
  app.get('/x', { config: { apiKey: true } }, handler)
  await refused(t, app, /GET \/x \(config\.apiKey\)/)
})

t.test('a near miss no registration reaches names the right key', async (t) => {
  const app = Fastify()
  app.register(async (api) => { await api.register(apiKeyPlugin, options) })
  app.get('/x', { config: { api_key: true } }, handler)
  await refused(t, app, /GET \/x \(config\.api_key: did you mean config\.apiKey\?\)/)
})

t.test('what the registrations reach starts, and open routes anywhere stay open', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/open', { config: { apiKey: false, other: 1 } }, handler)
  app.register(async (staff) => {
    await staff.register(apiKeyPlugin, options)
    staff.get('/staff', { config: { apiKey: true } }, handler)
  })
  app.register(async (partners) => {
    await partners.register(apiKeyPlugin, { ...options, decorator: 'partnerKey' })
    partners.get('/partners', { config: { partnerKey: true } }, handler)
  })
  app.register(async (both) => {
    await both.register(apiKeyPlugin, options)
    await both.register(apiKeyPlugin, { ...options, decorator: 'partnerKey' })
    both.get('/both', { config: { apiKey: true, partnerKey: { optional: true } } }, handler)
  })
  await app.ready()
  t.equal((await app.inject('/open')).statusCode, 200)
  t.equal((await app.inject('/staff')).statusCode, 401)
  t.equal((await app.inject('/partners')).statusCode, 401)
  t.equal((await app.inject('/both')).statusCode, 401)
})

t.test('open routes carry no hook of the library: the check costs them nothing per request', async (t) => {
  const routes = async (register: boolean): Promise<string> => {
    const app = Fastify()
    t.teardown(() => app.close())
    if (register) await app.register(apiKeyPlugin, options)
    app.get('/open', { config: { other: true } }, handler)
    app.register(async (scope) => { scope.get('/scoped', handler) })
    await app.ready()
    return app.printRoutes({ includeHooks: true })
  }
  const bare = await routes(false)
  t.match(bare, /open \(GET\)/)
  t.equal(await routes(true), bare, 'the same routes with the same hooks, with the plugin registered or not')
})
