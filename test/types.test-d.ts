// Type tests: checked by `npm run lint` (tsc), never run. Each @ts-expect-error
// line must stay an error, or tsc fails.
import Fastify, { type FastifyRequest } from 'fastify'
import apiKeyPlugin, { apiKeyAdmin, createApiKeyManager, type ApiKeyManager, type ApiKeyRecord, type UsagePeriod, type VerifyResult } from '../src/index.ts'
import { PrismaClient } from '../prisma/generated/sqlite/client.ts'

declare const prisma: PrismaClient

const app = Fastify()
await app.register(apiKeyPlugin, { model: prisma.apiKey })
await app.register(apiKeyPlugin, { model: prisma.apiKey, header: 'x-api-key', hook: 'onRequest', scrypt: { ln: 13 } })
// @ts-expect-error the model is required
await app.register(apiKeyPlugin, {})
// @ts-expect-error only preHandler and onRequest
await app.register(apiKeyPlugin, { model: prisma.apiKey, hook: 'onSend' })
// @ts-expect-error getKey returns a string
await app.register(apiKeyPlugin, { model: prisma.apiKey, getKey: () => 42 })

const manager: ApiKeyManager = app.apiKeys
const created: { apiKey: ApiKeyRecord, key: string } = await manager.create({ name: 'x', expiresAt: new Date() })
// @ts-expect-error the record has no hash
created.apiKey.hashedKey // eslint-disable-line @typescript-eslint/no-unused-expressions
// @ts-expect-error a name is required
await manager.create({ expiresAt: null })
// Imported keys (docs/migrating.md): `from` names a system the library reads.
await app.register(apiKeyPlugin, { model: prisma.apiKey, importedKeys: true })
const { imported }: { imported: boolean } = await manager.importKey({ from: 'drf-api-key', prefix: 'AbCd1234', hashedKey: 'sha512$$…', name: 'x', revoked: true })
export const importedFrom: string | null | undefined = created.apiKey.importedFrom
// @ts-expect-error bcrypt hashes are not read
await manager.importKey({ from: 'bcrypt', prefix: 'p', hashedKey: 'h', name: 'x' })
// @ts-expect-error the hash is required
await manager.importKey({ from: 'sha256', prefix: 'p', name: 'x' })
export const skipped = !imported
const result: VerifyResult = await manager.verify(created.key)
export const outcome: string = result.valid
  ? result.apiKey.id
  : result.reason satisfies 'malformed' | 'unknown' | 'wrong_secret' | 'revoked' | 'disabled' | 'expired' | 'unusable' | 'ip_not_allowed' | 'usage_exceeded' | 'throttled'

app.get('/a', { config: { apiKey: true } }, async (request) => {
  const key: ApiKeyRecord | null = request.apiKey
  // @ts-expect-error it may be null on optional routes
  const name: string = request.apiKey.name
  return { key, name }
})
app.get('/b', {
  config: { apiKey: { optional: true, authorize: async (apiKey: ApiKeyRecord, request: FastifyRequest) => apiKey.name === request.url } }
}, async () => 'b')
// @ts-expect-error optional is a boolean
app.get('/c', { config: { apiKey: { optional: 'yes' } } }, async () => 'c')
app.get('/e', { preHandler: app.verifyApiKey }, async () => 'e')

const standalone = createApiKeyManager({ model: prisma.apiKey, brand: 'acme_' })
export const pattern: RegExp = standalone.keyPattern
// @ts-expect-error a whole client is not a model delegate
createApiKeyManager({ model: prisma })

// The usage history: the usage model's delegate, hours or days.
const counting = createApiKeyManager({ model: prisma.apiKey, usage: { model: prisma.apiKeyUsage, period: 'hour' } })
const periods: UsagePeriod[] = await counting.usage('id', { from: new Date(), to: new Date() })
export const firstStart: Date | undefined = periods[0]?.periodStart
// @ts-expect-error hours or days, nothing else
createApiKeyManager({ model: prisma.apiKey, usage: { model: prisma.apiKeyUsage, period: 'week' } })
// @ts-expect-error from is a Date
await counting.usage('id', { from: '2026-11-01' })

// docs/admin.md: mounting the panel behind the app's own check.
declare function isAdmin (request: FastifyRequest): Promise<boolean>
await app.register(apiKeyPlugin, { model: prisma.apiKey })
await app.register(apiKeyAdmin, {
  prefix: '/admin/api-keys',
  // Your own check, run before every admin route, page and asset.
  guard: async (request, reply) => {
    if (!(await isAdmin(request))) {
      await reply.code(403).send({ message: 'admins only' })
    }
  }
})
// Without a declared record type, a column gets the library's record.
await app.register(apiKeyAdmin, { guard: async () => {}, columns: [{ label: 'Name', value: (apiKey: ApiKeyRecord) => apiKey.name }] })
// @ts-expect-error the library's record has no organization
await app.register(apiKeyAdmin, { guard: async () => {}, columns: [{ label: 'Organization', value: (apiKey) => apiKey.organization }] })
