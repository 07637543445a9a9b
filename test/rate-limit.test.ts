// Recipe (docs/recipes.md): @fastify/rate-limit counting per API key. The
// block between the markers is the guide's example, word for word.
import rateLimit from '@fastify/rate-limit'
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin from '../src/index.ts'
import { auth } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'

t.test('each key has its own budget; requests without a key count per address', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const prisma = db.prisma
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  // docs/recipes.md: rate-limit
  await fastify.register(apiKeyPlugin, { model: prisma.apiKey })
  await fastify.register(rateLimit, {
    // After the key check, which is first in line on preHandler: request.apiKey is set.
    hook: 'preHandler',
    keyGenerator: (request) => request.apiKey?.id ?? request.ip,
    // A key may carry its own budget in a column of your model; 3 by default here.
    max: (request) => (request.apiKey as { rateLimit?: number } | null)?.rateLimit ?? 3,
    timeWindow: '1 minute'
  })
  // end
  fastify.get('/orders', { config: { apiKey: true } }, async (request) => ({ key: request.apiKey?.name }))
  fastify.get('/status', { config: { apiKey: { optional: true } } }, async () => ({ ok: true }))
  await fastify.ready()

  const a = await fastify.apiKeys.create({ name: 'a' })
  const b = await fastify.apiKeys.create({ name: 'b' })
  const call = async (url: string, headers = {}) => await fastify.inject({ url, headers })
  const codes = []
  for (let i = 0; i < 4; i++) codes.push((await call('/orders', auth(a.key))).statusCode)
  t.same(codes, [200, 200, 200, 429], 'key a: 3 then limited')
  const limited = await call('/orders', auth(a.key))
  t.equal(limited.headers['x-ratelimit-limit'], '3')
  t.equal((await call('/orders', auth(b.key))).statusCode, 200, 'key b has its own budget')
  t.equal((await call('/status')).statusCode, 200, 'no key: counted by address')
  const bad = await call('/orders', auth('not-a-key'))
  t.equal(bad.statusCode, 401, 'a bad key is refused before the limiter counts it')
})
