// Type tests of the example's declarations (types.ts): checked by
// `tsc -p examples/organizations/tsconfig.json` (part of npm run lint), never
// run. Each @ts-expect-error line must stay an error, or tsc fails.
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import apiKeyPlugin, { apiKeyAdmin, hasScope } from 'fastify-prisma-api-key'
import type { PrismaClient } from './generated/sqlite/client.ts'
import type { OrganizationKey } from './types.ts'

declare const prisma: PrismaClient

const app = Fastify()
await app.register(apiKeyPlugin, { model: prisma.organizationApiKey, include: { organization: true } })

// request.apiKey is the declared record: the key with its organization.
app.get('/me', { config: { apiKey: { scopes: ['orders:read', 'invoices:read'] } } }, async (request) => {
  const organization: string | undefined = request.apiKey?.organization.name
  const key: OrganizationKey | null = request.apiKey
  return { organization, key }
})
app.get('/active', {
  config: { apiKey: { authorize: (apiKey) => apiKey.organization.active && hasScope(apiKey, 'invoices:read') } }
}, async () => 'ok')

// @ts-expect-error 'orders:delete' is not a declared scope
app.get('/a', { config: { apiKey: { scopes: ['orders:delete'] } } }, async () => 'a')
// @ts-expect-error a route requires exact scopes; wildcards are for keys
app.get('/b', { config: { apiKey: { scopes: ['orders:*'] } } }, async () => 'b')
// @ts-expect-error hasScope takes declared scopes only
hasScope({ scopes: '' }, 'payments:read')

// create() takes the model's own columns (organizationId) along with the library's.
const { apiKey } = await app.apiKeys.create({ name: 'billing', organizationId: 'org_1' })
export const organizationName: string = apiKey.organization.name
export const record: OrganizationKey = apiKey
// A declared scope, a wildcard over a declared resource, or everything.
await app.apiKeys.create({ name: 'orders', organizationId: 'org_1', scopes: ['orders:read', 'orders:*', 'invoices:*', '*'] })
// @ts-expect-error 'payments:read' is not a declared scope
await app.apiKeys.create({ name: 'x', organizationId: 'org_1', scopes: ['payments:read'] })
// @ts-expect-error no declared scope starts with payments:
await app.apiKeys.create({ name: 'x', organizationId: 'org_1', scopes: ['payments:*'] })
// @ts-expect-error the record the library returns has no hash
apiKey.hashedKey // eslint-disable-line @typescript-eslint/no-unused-expressions

// docs/admin.md: the admin panel's extra columns get the declared record.
declare function adminOnly (request: FastifyRequest, reply: FastifyReply): Promise<void>
await app.register(apiKeyAdmin, {
  prefix: '/admin/api-keys',
  guard: adminOnly,
  columns: [
    { label: 'Organization', value: (apiKey) => apiKey.organization.name },
    { label: 'Organization active', value: (apiKey) => apiKey.organization.active }
  ]
})
// @ts-expect-error the declared record has no such column
await app.register(apiKeyAdmin, { guard: adminOnly, columns: [{ label: 'Team', value: (apiKey) => apiKey.team }] })
// @ts-expect-error a column shows text, a number or a boolean, not an object
await app.register(apiKeyAdmin, { guard: adminOnly, columns: [{ label: 'Organization', value: (apiKey) => apiKey.organization }] })
