// Recipe (docs/recipes.md): beside @fastify/auth, as one of several ways in
// (key OR session) or one of several conditions (key AND address).
import fastifyAuth from '@fastify/auth'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import t from 'tap'
import apiKeyPlugin from '../src/index.ts'
import { auth, FAST_SCRYPT } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'

t.test('key OR session, key AND something', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const prisma = db.prisma
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  await fastify.register(apiKeyPlugin, { model: prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
  // Stand-ins for the app's own checks.
  const verifySession = async (request: FastifyRequest): Promise<void> => {
    if (request.headers.cookie !== 'session=valid') throw new Error('no session')
  }
  const fromOffice = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.headers['x-office'] !== 'yes') {
      reply.code(403)
      throw new Error('not from the office')
    }
  }
  // docs/recipes.md: auth
  await fastify.register(fastifyAuth)
  // A partner's backend (API key) or a signed-in user (session).
  fastify.get('/reports', {
    preHandler: fastify.auth([fastify.verifyApiKey, verifySession])
  }, async (request) => ({ by: request.apiKey?.name ?? 'session' }))
  // A key, and only from the office network.
  fastify.get('/payroll', {
    preHandler: fastify.auth([fastify.verifyApiKey, fromOffice], { relation: 'and' })
  }, async (request) => ({ by: request.apiKey?.name }))
  // end
  await fastify.ready()
  const { key } = await fastify.apiKeys.create({ name: 'partner' })

  const reports = async (headers: Record<string, string>) => await fastify.inject({ url: '/reports', headers })
  t.same((await reports(auth(key))).json(), { by: 'partner' }, 'key')
  t.same((await reports({ cookie: 'session=valid' })).json(), { by: 'session' }, 'session')
  t.equal((await reports({})).statusCode, 401, 'neither')
  t.equal((await reports({ ...auth('bad'), cookie: 'session=valid' })).statusCode, 200, 'a bad key does not stop a valid session (OR)')
  t.equal((await reports(auth('bad'))).statusCode, 401)

  const payroll = async (headers: Record<string, string>) => await fastify.inject({ url: '/payroll', headers })
  t.same((await payroll({ ...auth(key), 'x-office': 'yes' })).json(), { by: 'partner' }, 'both')
  t.equal((await payroll(auth(key))).statusCode, 403, 'key without the office')
  const noKey = await payroll({ 'x-office': 'yes' })
  t.equal(noKey.statusCode, 401)
  t.equal(noKey.json().code, 'FST_API_KEY_MISSING', 'the key check says why')
})
