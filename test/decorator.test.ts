// Several key models in one app (docs/custom-models.md): one registration per
// model, each under its own decorator name.
import Fastify, { type FastifyReply } from 'fastify'
import t from 'tap'
import apiKeyPlugin, { type ApiKeyManager, type ApiKeyRecord, type ApiKeyRouteConfig } from '../src/index.ts'
import { auth, FAST_SCRYPT } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'

// docs/custom-models.md: decorator types
declare module 'fastify' {
  interface FastifyInstance {
    partnerKeys: ApiKeyManager
    verifyPartnerKey: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    partnerKey: ApiKeyRecord | null
  }
  interface FastifyContextConfig {
    partnerKey?: ApiKeyRouteConfig
  }
}
// end

t.test('two registrations, two models, two decorators', async (t) => {
  // Two databases stand for two key models (a second model would need its own table).
  const staffDb = await openDatabase('sqlite')
  const partnerDb = await openDatabase('sqlite')
  t.teardown(() => staffDb.close())
  t.teardown(() => partnerDb.close())
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  const options = { scrypt: FAST_SCRYPT, hashThreads: 1 }
  await fastify.register(apiKeyPlugin, { ...options, model: staffDb.prisma.apiKey, brand: 'staff_' })
  await fastify.register(apiKeyPlugin, { ...options, model: partnerDb.prisma.apiKey, brand: 'partner_', decorator: 'partnerKey', header: 'x-partner-key' })
  fastify.get('/staff', { config: { apiKey: true } }, async (request) => ({ staff: request.apiKey?.name, partner: request.partnerKey }))
  fastify.get('/partner', { config: { partnerKey: true } }, async (request) => ({ partner: request.partnerKey?.name, staff: request.apiKey }))
  fastify.get('/either', { preHandler: fastify.verifyPartnerKey }, async (request) => ({ partner: request.partnerKey?.name }))
  await fastify.ready()

  t.not(fastify.partnerKeys, fastify.apiKeys)
  const staff = await fastify.apiKeys.create({ name: 'ops' })
  const partner = await fastify.partnerKeys.create({ name: 'acme' })
  t.match(partner.key, /^partner_/)

  t.same((await fastify.inject({ url: '/staff', headers: auth(staff.key) })).json(), { staff: 'ops', partner: null })
  t.same((await fastify.inject({ url: '/partner', headers: { 'x-partner-key': partner.key } })).json(), { partner: 'acme', staff: null })
  t.same((await fastify.inject({ url: '/either', headers: { 'x-partner-key': partner.key } })).json(), { partner: 'acme' })
  t.equal((await fastify.inject({ url: '/partner', headers: auth(staff.key) })).json().code, 'FST_API_KEY_MISSING', 'a staff key is no partner key')
  t.equal((await fastify.inject({ url: '/partner', headers: { 'x-partner-key': staff.key } })).json().code, 'FST_API_KEY_MALFORMED', 'nor in the partner header')
  t.equal((await fastify.inject({ url: '/staff', headers: { 'x-partner-key': partner.key } })).statusCode, 401)
  t.equal(await staffDb.prisma.apiKey.count(), 1, 'each key in its own table')
  t.equal(await partnerDb.prisma.apiKey.count(), 1)
})

t.test('the same decorator twice in one scope fails at register', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  fastify.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT })
  fastify.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT })
  await t.rejects(async () => await fastify.ready(), { code: 'FST_ERR_DEC_ALREADY_PRESENT' })
})
