// The app's own names for the library's types, declared once. With them,
// request.apiKey is a key row with its organization, and route configs and
// create({ scopes }) accept only these scopes (checked by tsc).
import type { Prisma } from './generated/sqlite/client.ts'

export type Scope = 'orders:read' | 'orders:write' | 'invoices:read'

/** A key as the library hands it out: the row without its hashes, with its organization. */
export type OrganizationKey = Prisma.OrganizationApiKeyGetPayload<{
  include: { organization: true }
  omit: { hashedKey: true, previousHashedKey: true }
}>

declare module 'fastify-prisma-api-key' {
  interface ApiKeyTypes {
    scopes: Scope
    record: OrganizationKey
  }
}
