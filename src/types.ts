import type { ApiKeyRecord } from './store.js'

/**
 * Augment this interface to type the library with your app's own names
 * (docs/custom-models.md, docs/scopes.md):
 *
 *   declare module 'fastify-prisma-api-key' {
 *     interface ApiKeyTypes {
 *       scopes: 'orders:read' | 'orders:write'
 *       record: Prisma.OrganizationApiKeyGetPayload<{ include: { organization: true } }>
 *     }
 *   }
 */
export interface ApiKeyTypes {}

/** request.apiKey's type: `ApiKeyTypes['record']` when the app declares it. */
export type RegisteredApiKey = ApiKeyTypes extends { record: infer R extends ApiKeyRecord } ? R : ApiKeyRecord

/** A scope a route can require: your declared names, or any string. */
export type ApiKeyScope = ApiKeyTypes extends { scopes: infer S extends string } ? S : string

type WildcardOf<S extends string> = S extends `${infer Resource}:${string}` ? `${Resource}:*` : never

/** A scope a key can be given: a declared name, `<resource>:*` for one of them, or `*`. */
export type GrantableScope = string extends ApiKeyScope ? string : ApiKeyScope | WildcardOf<ApiKeyScope> | '*'
