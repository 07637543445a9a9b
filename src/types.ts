/** The fields every key model has (docs/custom-models.md); extra ones pass through. */
export interface ApiKeyRecord {
  id: string
  prefix: string
  name: string
  revoked: boolean
  expiresAt: Date | null
  createdAt: Date
  lastUsedAt: Date | null
  /** Space-separated, e.g. `orders:read orders:*` (docs/scopes.md). */
  scopes: string
  /** Until when the secret replaced by the last rotation still works. */
  previousKeyExpiresAt: Date | null
  /** Suspended until enabled: the suspension feature's column (docs/usage.md); absent from models without it. */
  disabled?: boolean
  /** Where the key may be used from, space-separated; null for anywhere: the ipAllowlist feature's column (docs/usage.md). */
  allowedIps?: string | null
  /** Calls left, null for unlimited: the credits feature's columns (docs/usage.md), as last read; the balance now is manager.balance(). */
  credits?: number | null
  /** The refill policy, e.g. 'day:1000'; null for none. */
  creditRefill?: string | null
  /** When the credits were last refilled or set: the refill schedule counts from it. */
  creditsRefilledAt?: Date | null
  /** The system an imported key came from ('drf-api-key', 'sha256'), null for the library's own keys: the importedKeys feature's column (docs/migrating.md). */
  importedFrom?: string | null
}

/** A row as the verifier reads it: with its hashes (and keyHmac, in a model that has it). */
export type StoredApiKey<R extends ApiKeyRecord = ApiKeyRecord> = R & {
  hashedKey: string
  previousHashedKey: string | null
  keyHmac?: string | null
}

export type VerifyFailure = 'malformed' | 'unknown' | 'wrong_secret' | 'revoked' | 'disabled' | 'expired' | 'unusable' | 'ip_not_allowed' | 'usage_exceeded' | 'throttled'

/** Where a call comes from (request.ip), or a function giving it: called only for a key with an allowlist. */
export type ClientAddress = string | (() => string | undefined) | undefined

export type VerifyResult<R extends ApiKeyRecord = ApiKeyRecord> =
  | { valid: true, apiKey: R }
  | { valid: false, reason: VerifyFailure }

/** The app's own rule on top of revoked/expired (the `usable` option). */
export type UsableCheck<R extends ApiKeyRecord = ApiKeyRecord> = (apiKey: R) => boolean

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
