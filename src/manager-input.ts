import { badArgument, isPlainObject } from './checks.js'
import { errors } from './errors.js'
import { MAX_GRACE_PERIOD } from './expiry.js'
import { readAllowlist } from './ip-allowlist.js'
import { IMPORTED_PREFIX } from './key-format.js'
import { parseLegacyHash, type LegacyHash } from './legacy-hash.js'
import { MAX_CREDITS, readRefill } from './refill.js'
import { serializeScopes } from './scopes.js'
import { statusesOf, statusWhere, type ApiKeyStatus } from './status.js'
import type { GrantableScope } from './types.js'
import { nextPeriod, periodStart, type UsagePeriodName } from './usage.js'

// What callers hand the manager, checked before anything is hashed or
// written: a wrong argument is a coded error that says what to give.

export interface CreateInput {
  name: string
  expiresAt?: Date | null
  /** What the key may do (docs/scopes.md); none by default. */
  scopes?: GrantableScope[]
  /** Calls the key may make (the credits feature); null or none: unlimited. */
  credits?: number | null
  /** When its credits come back, e.g. 'day:1000', 'month:1:50000', 'every:3600:100', ':add' at the end to add (docs/usage.md). */
  creditRefill?: string | null
  /** Extra columns of a custom model (e.g. organizationId). */
  [field: string]: unknown
}

export interface RotateInput {
  /** How long (ms) the replaced secret keeps working; 0 (the default) ends it at once. */
  gracePeriod?: number
}

export interface ListInput {
  /** 'disabled' needs the suspension feature. */
  status?: ApiKeyStatus
  /** Extra Prisma `where` conditions, ANDed with the status filter. */
  where?: Record<string, unknown>
  /** Page size, 1 to 500 (default 50). */
  take?: number
  skip?: number
}

export interface UsageInput {
  /** The first period is the one holding this instant (default 30 days ago). */
  from?: Date
  /** Periods that start before this instant (default: up to the current period, included). */
  to?: Date
}

/** The systems importKey takes keys from, and the hash schemes each stores (src/legacy-hash.ts). */
const SOURCES = {
  'drf-api-key': { schemes: ['sha512', 'pbkdf2_sha256'], shape: "one of drf-api-key's (sha512$$<hex> or pbkdf2_sha256$<iterations>$<salt>$<hash>)" },
  sha256: { schemes: ['sha256'], shape: 'a SHA-256 (64 lower-case hex digits, or 43 base64url characters)' }
} as const satisfies Record<string, { schemes: ReadonlyArray<LegacyHash['scheme']>, shape: string }>

export type ImportSource = keyof typeof SOURCES

export interface ImportInput {
  /** The system the key comes from: its hash is one of that system's. */
  from: ImportSource
  /** The part of the key before the first dot, as the other system stored it. */
  prefix: string
  /** The other system's hash of the full key; never the key. */
  hashedKey: string
  name: string
  /** A revoked key is imported revoked, permanently. */
  revoked?: boolean
  /** Kept as it was, in the past too (the key is then imported expired); no lifetime policy applies. */
  expiresAt?: Date | null
  /** When the other system made it (default now). */
  createdAt?: Date
  scopes?: GrantableScope[]
  /** Extra columns of a custom model (e.g. organizationId). */
  [field: string]: unknown
}

// Columns the library owns: a caller may not set them through create/update.
const RESERVED = ['id', 'prefix', 'hashedKey', 'previousHashedKey', 'previousKeyExpiresAt', 'createdAt', 'lastUsedAt', 'keyHmac', 'creditsRefilledAt', 'importedFrom']

export function checkId (id: unknown, secret: RegExp): asserts id is string {
  if (typeof id !== 'string' || id === '') badArgument('id', 'expected a non-empty string')
  if (secret.test(id)) badArgument('id', 'this is an API key, not an id: pass the record\'s id (apiKey.id), never the key')
}

// Any text a caller writes (name, scopes, columns of their own) is refused
// when it holds a key of this manager: keys are never stored in clear, not
// even by mistake. The error says which field, never what it held.
function checkNoKey (data: Record<string, unknown>, secret: RegExp): void {
  for (const [field, value] of Object.entries(data)) {
    const texts = Array.isArray(value) ? value : [value]
    if (texts.some((text) => typeof text === 'string' && secret.test(text))) {
      badArgument(field, 'holds an API key: keys are never stored in clear')
    }
  }
}

// Validates the library's columns in create/update input; returns the data to write.
// A new key may not start expired (surely a mistake, as the CLI and the panel
// say); an update may set a past expiry: that ends a key now, keeping its record.
function checkFields (data: Record<string, unknown>, secret: RegExp, creating = false): Record<string, unknown> {
  for (const field of RESERVED) {
    if (field in data) badArgument(field, 'is set by the library and cannot be given')
  }
  checkNoKey(data, secret)
  if ('name' in data && (typeof data.name !== 'string' || data.name.trim() === '')) throw new errors.NAME_REQUIRED()
  const { expiresAt } = data
  if (expiresAt !== undefined && expiresAt !== null && !(expiresAt instanceof Date && !Number.isNaN(expiresAt.getTime()))) {
    badArgument('expiresAt', 'expected a valid Date or null')
  }
  if (creating && expiresAt instanceof Date && expiresAt.getTime() <= Date.now()) {
    badArgument('expiresAt', 'is in the past: a new key cannot start expired (update() can expire a key now)')
  }
  const changes = { ...data }
  if (typeof changes.name === 'string') changes.name = changes.name.trim()
  if (data.scopes !== undefined) {
    const scopes = serializeScopes(data.scopes)
    if ('problem' in scopes) badArgument('scopes', scopes.problem)
    changes.scopes = scopes.value
  }
  return changes
}

export const REFILL_NEEDS_CREDITS = 'needs credits: a key without credits is unlimited, there is nothing to refill'

export function checkCreate (input: CreateInput, secret: RegExp, features: Features): Record<string, unknown> {
  if (!isPlainObject(input)) badArgument('input', 'expected an object such as { name }')
  if (input.name === undefined) throw new errors.NAME_REQUIRED()
  if (input.revoked !== undefined) badArgument('revoked', 'a new key cannot be created revoked')
  if (input.creditRefill !== undefined && input.creditRefill !== null && (input.credits === undefined || input.credits === null)) {
    badArgument('creditRefill', REFILL_NEEDS_CREDITS)
  }
  return anchorRefills({ ...checkFields(checkFeatures(input, features), secret, true), expiresAt: input.expiresAt ?? null })
}

/** An imported key's row, checked: the hash must be one its system makes and this library can verify. */
export function checkImport (input: ImportInput, secret: RegExp, features: Features): Record<string, unknown> {
  if (!isPlainObject(input)) badArgument('input', 'expected an object such as { from, prefix, hashedKey, name }')
  const { from, prefix, hashedKey, revoked = false, createdAt, ...rest } = input
  if (!Object.hasOwn(SOURCES, from)) badArgument('from', `expected ${Object.keys(SOURCES).map((name) => `'${name}'`).join(' or ')}`)
  if (typeof prefix !== 'string' || !IMPORTED_PREFIX.test(prefix)) badArgument('prefix', 'expected 1 to 64 characters from A-Z, a-z, 0-9, _ and -')
  const parsed = typeof hashedKey === 'string' ? parseLegacyHash(hashedKey) : null
  const source = SOURCES[from]
  if (parsed === null || !(source.schemes as readonly string[]).includes(parsed.scheme)) throw new errors.IMPORT_HASH(prefix, `its hash is not ${source.shape}`)
  if (typeof revoked !== 'boolean') badArgument('revoked', 'expected a boolean')
  if (createdAt !== undefined && !isDate(createdAt)) badArgument('createdAt', 'expected a valid Date')
  if (rest.name === undefined) throw new errors.NAME_REQUIRED()
  // Not checked as a new key: an expiry in the past imports the key expired.
  const data = checkFields(checkFeatures(rest, features), secret)
  return { ...data, expiresAt: data.expiresAt ?? null, prefix, hashedKey, revoked, importedFrom: from, ...(createdAt === undefined ? {} : { createdAt }) }
}

// A balance or a policy given: the refill schedule counts from now.
function anchorRefills (changes: Record<string, unknown>): Record<string, unknown> {
  return changes.credits === undefined && changes.creditRefill === undefined ? changes : { ...changes, creditsRefilledAt: new Date() }
}

export const SUSPENSION_OFF = 'pass suspension: true to the plugin or createApiKeyManager (the model needs a `disabled Boolean @default(false)` column)'
const ALLOWLIST_OFF = 'pass ipAllowlist: true to the plugin or createApiKeyManager (the model needs an `allowedIps String?` column)'
export const CREDITS_OFF = 'pass credits: true to the plugin or createApiKeyManager (the model needs `credits Int?`, `creditRefill String?` and `creditsRefilledAt DateTime?` columns)'

/** The optional features whose columns create and update may write. */
export interface Features {
  suspension: boolean
  ipAllowlist: boolean
  credits: boolean
}

function checkCredits (data: Record<string, unknown>, features: Features): Record<string, unknown> {
  if (data.credits === undefined && data.creditRefill === undefined) return data
  if (!features.credits) throw new errors.FEATURE_OFF('credits', CREDITS_OFF)
  const { credits, creditRefill } = data
  if (credits !== undefined && credits !== null && !(Number.isInteger(credits) && (credits as number) >= 0 && (credits as number) <= MAX_CREDITS)) {
    badArgument('credits', `expected an integer from 0 to ${MAX_CREDITS}, or null for unlimited`)
  }
  const changes: Record<string, unknown> = { ...data }
  if (creditRefill !== undefined) {
    const policy = readRefill(creditRefill)
    if ('problem' in policy) badArgument('creditRefill', policy.problem)
    changes.creditRefill = policy.value
  }
  return changes
}

// The features' columns: a model without a feature may lack its column.
// Returns the data to write (an allowlist as stored).
function checkFeatures (data: Record<string, unknown>, features: Features): Record<string, unknown> {
  if (data.disabled !== undefined) {
    if (!features.suspension) throw new errors.FEATURE_OFF('suspension', SUSPENSION_OFF)
    if (typeof data.disabled !== 'boolean') badArgument('disabled', 'expected a boolean')
  }
  data = checkCredits(data, features)
  if (data.allowedIps === undefined) return data
  if (!features.ipAllowlist) throw new errors.FEATURE_OFF('ipAllowlist', ALLOWLIST_OFF)
  const allowlist = readAllowlist(data.allowedIps)
  if ('problem' in allowlist) badArgument('allowedIps', allowlist.problem)
  return { ...data, allowedIps: allowlist.value }
}

export function checkUpdate (data: Record<string, unknown>, secret: RegExp, features: Features): Record<string, unknown> {
  if (!isPlainObject(data)) badArgument('data', 'expected an object')
  if (data.revoked !== undefined && typeof data.revoked !== 'boolean') badArgument('revoked', 'expected a boolean')
  return anchorRefills(checkFields(checkFeatures(data, features), secret))
}

/** The Prisma arguments of a list() call. */
export function checkList (input: ListInput, now: Date, suspension: boolean): { where: object, take: number, skip: number } {
  if (!isPlainObject(input)) badArgument('input', 'expected an object')
  const { status, where = {}, take = 50, skip = 0 } = input
  if (status === 'disabled' && !suspension) throw new errors.FEATURE_OFF('suspension', SUSPENSION_OFF)
  const statuses = statusesOf(suspension)
  if (status !== undefined && !statuses.includes(status)) badArgument('status', `expected one of ${statuses.join(', ')}`)
  if (!isPlainObject(where)) badArgument('where', 'expected a Prisma where object')
  if (!Number.isInteger(take) || take < 1 || take > 500) badArgument('take', 'expected an integer from 1 to 500')
  if (!Number.isInteger(skip) || skip < 0) badArgument('skip', 'expected a non-negative integer')
  return { where: status === undefined ? where : { AND: [where, statusWhere(status, now, suspension)] }, take, skip }
}

export function checkGrace (input: RotateInput): number {
  if (!isPlainObject(input)) badArgument('input', 'expected an object such as { gracePeriod: 3600000 }')
  const { gracePeriod = 0 } = input
  if (!Number.isInteger(gracePeriod) || gracePeriod < 0 || gracePeriod > MAX_GRACE_PERIOD) {
    badArgument('gracePeriod', `expected milliseconds, an integer from 0 to ${MAX_GRACE_PERIOD} (a year)`)
  }
  return gracePeriod
}

/** The most a call can cost (a route's `cost`, spend()'s). */
export const MAX_COST = 1_000_000

export function checkCost (apiKey: unknown, cost: unknown): void {
  if (!isPlainObject(apiKey) || typeof (apiKey as { id?: unknown }).id !== 'string') badArgument('apiKey', 'expected a verified key record (result.apiKey)')
  if (!Number.isInteger(cost) || (cost as number) < 0 || (cost as number) > MAX_COST) badArgument('cost', `expected an integer from 0 to ${MAX_COST}`)
}

export function checkRecord (apiKey: unknown): void {
  const record = apiKey as { revoked?: unknown, expiresAt?: unknown }
  if (!isPlainObject(apiKey) || typeof record.revoked !== 'boolean' || !(record.expiresAt === null || record.expiresAt instanceof Date)) {
    badArgument('apiKey', 'expected a key record (with revoked and expiresAt), as returned by get() or list()')
  }
}

const USAGE_DAYS = 30
const isDate = (value: unknown): value is Date => value instanceof Date && !Number.isNaN(value.getTime())

/** The range of periodStart a usage() call reads: [from, to). */
export function checkUsage (input: UsageInput, period: UsagePeriodName, now: number): { from: Date, to: Date } {
  if (!isPlainObject(input)) badArgument('input', 'expected an object such as { from, to }')
  for (const name of Object.keys(input)) {
    if (name !== 'from' && name !== 'to') badArgument(name, 'unknown, expected from or to')
  }
  const { from = new Date(now - USAGE_DAYS * 24 * 60 * 60 * 1000), to = new Date(nextPeriod(now, period)) } = input
  if (!isDate(from)) badArgument('from', 'expected a valid Date')
  if (!isDate(to)) badArgument('to', 'expected a valid Date')
  if (to.getTime() <= from.getTime()) badArgument('to', 'must be after from')
  return { from: new Date(periodStart(from.getTime(), period)), to }
}
