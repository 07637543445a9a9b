import Fastify, { type FastifyInstance } from 'fastify'
import apiKeyPlugin, {
  createApiKeyManager, type ApiKeyDelegate, type ApiKeyManager, type ApiKeyManagerOptions, type ApiKeyPluginOptions
} from '../../src/index.ts'
import type { TestDatabase } from './databases.ts'

// Cheap scrypt for behaviour tests (1 MiB, a few ms); test/hashing.test.ts and
// the benchmarks use the defaults.
export const FAST_SCRYPT = { ln: 10, r: 8, p: 1 }

/** The manager most tests build: cheap scrypt, one hashing thread. */
export function testManager (model: ApiKeyDelegate, options: Partial<ApiKeyManagerOptions> = {}): ApiKeyManager {
  return createApiKeyManager({ model, scrypt: FAST_SCRYPT, hashThreads: 1, ...options })
}

export async function buildApp (db: TestDatabase, options: Partial<ApiKeyPluginOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, ...options })
  app.get('/open', async () => ({ open: true }))
  app.get('/protected', { config: { apiKey: true } }, async (request) => ({ apiKey: request.apiKey }))
  await app.ready()
  return app
}

export const auth = (key: string): Record<string, string> => ({ authorization: `Api-Key ${key}` })
