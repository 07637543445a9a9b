// Recipe (docs/recipes.md): with @fastify/swagger, protected routes are
// documented with the API-key security scheme and their scopes.
import swagger from '@fastify/swagger'
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin, { apiKeySecurityScheme } from '../src/index.ts'
import { FAST_SCRYPT } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'

const db = await openDatabase('sqlite')
t.teardown(() => db.close())
const prisma = db.prisma

t.test('protected routes carry the scheme and their scopes; open routes none', async (t) => {
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  // docs/recipes.md: openapi
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Orders API', version: '1.0.0' },
      components: { securitySchemes: { apiKey: apiKeySecurityScheme() } }
    }
  })
  await fastify.register(apiKeyPlugin, { model: prisma.apiKey, securityScheme: 'apiKey' })
  // end
  fastify.get('/health', async () => 'ok')
  fastify.get('/orders', { config: { apiKey: { scopes: ['orders:read'] } } }, async () => [])
  fastify.post('/orders', { config: { apiKey: { scopes: ['orders:write', 'orders:read'] } } }, async () => ({}))
  fastify.get('/me', { config: { apiKey: true } }, async () => ({}))
  fastify.get('/catalog', { config: { apiKey: { optional: true } } }, async () => [])
  await fastify.ready()

  const doc = fastify.swagger() as any
  t.same(doc.components.securitySchemes.apiKey, {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'An API key, sent as `Api-Key <key>`'
  })
  t.equal(doc.paths['/health'].get.security, undefined, 'open route: no security')
  t.same(doc.paths['/orders'].get.security, [{ apiKey: ['orders:read'] }])
  t.same(doc.paths['/orders'].post.security, [{ apiKey: ['orders:write', 'orders:read'] }])
  t.same(doc.paths['/me'].get.security, [{ apiKey: [] }])
  t.same(doc.paths['/catalog'].get.security, [{}, { apiKey: [] }], 'optional: anonymous or a key')
  // The routes still work: the annotation adds no validation.
  t.equal((await fastify.inject('/health')).statusCode, 200)
  t.equal((await fastify.inject('/me')).statusCode, 401)
})

t.test('the scheme follows the header and keyword options', async (t) => {
  t.same(apiKeySecurityScheme({ header: 'X-API-Key' }), { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An API key' })
  t.same(apiKeySecurityScheme({ keyword: 'Token' }).description, 'An API key, sent as `Token <key>`')
  t.throws(() => apiKeySecurityScheme({ header: 'a b' }), { code: 'FST_API_KEY_INVALID_OPTION', message: /header/ })
  t.throws(() => apiKeySecurityScheme('x' as any), { code: 'FST_API_KEY_INVALID_OPTION', message: /options/ })
})

t.test('a route that states its own security keeps it', async (t) => {
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  const securitySchemes = { apiKey: apiKeySecurityScheme(), partner: { type: 'http', scheme: 'basic' } } as const
  await fastify.register(swagger, { openapi: { info: { title: 'x', version: '1' }, components: { securitySchemes } } })
  await fastify.register(apiKeyPlugin, { model: prisma.apiKey, scrypt: FAST_SCRYPT, securityScheme: 'apiKey' })
  fastify.get('/own', { config: { apiKey: true }, schema: { security: [{ partner: [] }] } as any }, async () => ({}))
  await fastify.ready()
  t.same((fastify.swagger() as any).paths['/own'].get.security, [{ partner: [] }])
})

t.test('without securityScheme, routes are left as they are', async (t) => {
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  await fastify.register(swagger, { openapi: { info: { title: 'x', version: '1' } } })
  await fastify.register(apiKeyPlugin, { model: prisma.apiKey, scrypt: FAST_SCRYPT })
  fastify.get('/me', { config: { apiKey: true } }, async () => ({}))
  await fastify.ready()
  t.equal((fastify.swagger() as any).paths['/me'].get.security, undefined)
})
