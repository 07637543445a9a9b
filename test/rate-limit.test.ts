// Recipe (docs/recipes.md): @fastify/rate-limit counting per API key. The
// block between the markers is the guide's example, word for word.
import rateLimit from '@fastify/rate-limit'
import Fastify from 'fastify'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import apiKeyPlugin from '../src/index.ts'
import { auth } from './helpers/app.ts'
import { PrismaClient as OrganizationsClient } from '../examples/organizations/generated/sqlite/client.ts'
import { openDatabase, openMigratedDatabase } from './helpers/databases.ts'

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

t.test('each key\'s own limit, from a column of the app\'s model (the organizations example)', async (t) => {
  const db = await openMigratedDatabase('sqlite', fileURLToPath(new URL('../examples/organizations/prisma/sqlite/migrations/', import.meta.url)))
  const prisma = new OrganizationsClient({ adapter: db.adapter as any })
  t.teardown(async () => { await prisma.$disconnect(); await db.close() })
  const fastify = Fastify()
  t.teardown(() => fastify.close())
  // docs/recipes.md: rate-limit per key
  await fastify.register(apiKeyPlugin, { model: prisma.organizationApiKey })
  await fastify.register(rateLimit, {
    hook: 'preHandler',
    keyGenerator: (request) => request.apiKey?.id ?? request.ip,
    // The key's own limit (null: the default), read with the key, per request.
    max: (request) => (request.apiKey as { rateLimit: number | null } | null)?.rateLimit ?? 100,
    timeWindow: '1 minute'
  })
  // end
  fastify.get('/orders', { config: { apiKey: true } }, async () => ({ orders: [] }))
  await fastify.ready()

  const acme = await prisma.organization.create({ data: { name: 'Acme' } })
  const strict = await fastify.apiKeys.create({ name: 'strict', organizationId: acme.id, rateLimit: 2 })
  const roomy = await fastify.apiKeys.create({ name: 'roomy', organizationId: acme.id, rateLimit: 5 })
  const plain = await fastify.apiKeys.create({ name: 'default', organizationId: acme.id })
  const codes = async (key: string, n: number): Promise<number[]> => {
    const all: number[] = []
    for (let i = 0; i < n; i++) all.push((await fastify.inject({ url: '/orders', headers: auth(key) })).statusCode)
    return all
  }
  t.same(await codes(strict.key, 3), [200, 200, 429], 'a limit of 2')
  t.same(await codes(roomy.key, 6), [200, 200, 200, 200, 200, 429], 'a limit of 5')
  const limited = await fastify.inject({ url: '/orders', headers: auth(roomy.key) })
  t.equal(limited.headers['x-ratelimit-limit'], '5', 'the key\'s own limit, in the headers')
  t.same(await codes(plain.key, 3), [200, 200, 200], 'no column value: the default')
  t.equal((await fastify.inject({ url: '/orders', headers: auth(plain.key) })).headers['x-ratelimit-limit'], '100')
  await fastify.apiKeys.update(strict.apiKey.id, { rateLimit: 4 })
  // Three requests of the window were counted, the refused one too: one more fits under 4.
  t.same(await codes(strict.key, 2), [200, 429], 'a raised limit applies at once')
})
