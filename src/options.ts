import type { KeyObject } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { EVENT_METHODS, type EventDelegate } from './audit.js'
import { CHANGE_LOG_METHODS, type ChangeLogDelegate, type ListenClient } from './change-feed.js'
import { checkKnown, fail, isPlainObject } from './checks.js'
import { paramsError, type ScryptParams } from './hash-format.js'
import type { ApiKeyEvent } from './events.js'
import { BRAND_RULE, isBrand } from './key-format.js'
import { PEPPER_RULE, pepperKeys } from './pepper.js'
import { DELEGATE_METHODS, type ApiKeyDelegate } from './store.js'
import type { ApiKeyRecord, RegisteredApiKey, UsableCheck } from './types.js'
import type { UsagePeriodName } from './usage.js'
import { USAGE_METHODS, type UsageDelegate } from './usage-store.js'

export interface ApiKeyManagerOptions {
  /** A Prisma model delegate, e.g. `prisma.apiKey`. */
  model: ApiKeyDelegate
  /** Fixed text in front of every key (e.g. `acme_`), for secret scanners. */
  brand?: string
  /** scrypt parameters for new hashes; old hashes are upgraded on use. */
  scrypt?: Partial<ScryptParams>
  /** Worker threads that run scrypt. */
  hashThreads?: number
  /** Hashes allowed to wait for a thread; beyond, checks fail fast with 503. */
  hashQueue?: number
  /**
   * How changes made elsewhere (other instances, the CLI, SQL) reach this
   * instance within about a second: the change log's delegate to poll
   * (SQLite, MySQL), or a PostgreSQL connection to LISTEN on (docs/change-feed.md).
   */
  changeFeed?: ChangeFeedOption
  /** How long (ms) a key's row is trusted before it is read again; 0 reads it on every check. Default 60 s with a changeFeed, 5 s without. */
  cacheTtl?: number
  /** Keys remembered (rows, verified secrets, failure counts), each. */
  cacheSize?: number
  /** Unverified checks a prefix may have in a burst (wrong secrets and checks in flight). */
  maxFailures?: number
  /** The time (ms) in which a spent burst comes back, a check at a time: one per failureWindow / maxFailures. */
  failureWindow?: number
  /** How long (ms) a throttled attempt waits before its 429, so a flood paces itself. */
  throttleDelay?: number
  /** lastUsedAt is written at most once per key per interval (ms); 0 never writes it. */
  lastUsedInterval?: number
  /** Relations read with every key, in the same Prisma call (an `include`, e.g. `{ organization: true }`). */
  include?: Record<string, unknown>
  /** The app's own rule: a key it returns false for is refused (401 FST_API_KEY_UNUSABLE). */
  usable?: UsableCheck<RegisteredApiKey>
  /**
   * A server-side secret of at least 32 bytes, from the environment, never the
   * database (or an array of them, current first, to rotate it): a key scrypt
   * verified once is then checked by HMAC on every instance (docs/security.md).
   */
  pepper?: string | Uint8Array | Array<string | Uint8Array>
  /**
   * Reversible suspension: disable(id) and enable(id), and the 'disabled'
   * status. The model needs a `disabled Boolean @default(false)` column
   * (the library's model has it). Default false.
   */
  suspension?: boolean
  /**
   * Per-key IP allowlists: create and update take `allowedIps` (addresses and
   * CIDR ranges), and a key is refused from elsewhere (403
   * FST_API_KEY_IP_NOT_ALLOWED). The plugin checks `request.ip`: set Fastify's
   * trustProxy to match your proxies (docs/security.md). The model needs an
   * `allowedIps String?` column. Default false.
   */
  ipAllowlist?: boolean
  /**
   * Counts accepted checks per key and UTC hour or day (default day) in the
   * usage model, e.g. `{ model: prisma.apiKeyUsage }`: counted in memory and
   * added in batches every lastUsedInterval (60 s when that is 0); read with
   * manager.usage() (docs/usage.md).
   */
  usage?: UsageOption
  /**
   * Usage-limited keys: create and update take `credits` (calls left, null
   * for unlimited) and `creditRefill` (e.g. 'day:1000'); a route's
   * `config.apiKey.cost` is what a call spends (default 1), and a key that
   * cannot pay gets 429 FST_API_KEY_USAGE_EXCEEDED. Credits are reserved from
   * the database in blocks, never overspent across instances (docs/usage.md).
   * The model needs `credits Int?`, `creditRefill String?` and
   * `creditsRefilledAt DateTime?` columns. Default false.
   */
  credits?: boolean
  /**
   * The longest (ms, up to 10 years) a key may live: a new key without
   * expiresAt gets defaultLifetime (else this), a later expiresAt is refused
   * (400 FST_API_KEY_LIFETIME_EXCEEDED), and update cannot move expiresAt past
   * createdAt + maxLifetime nor remove it (docs/lifecycle.md).
   */
  maxLifetime?: number
  /** The expiry (ms from creation) a new key gets when none is given; at most maxLifetime. */
  defaultLifetime?: number
  /**
   * Keys imported from djangorestframework-api-key or a SHA-256 system
   * (manager.importKey, the CLI's import): their hashes are verified, and
   * replaced by scrypt on first use, and their `<prefix>.<secret>` format is
   * accepted for imported rows. The model needs an `importedFrom String?`
   * column. Default false: no legacy hash ever matches (docs/migrating.md).
   */
  importedKeys?: boolean
  /**
   * The audit log: every change to a key (created, updated, rotated, revoked,
   * disabled, enabled, leaked, revoked for idleness) is written to this model,
   * e.g. `{ model: prisma.apiKeyEvent }` (a delegate of the same client as
   * `model`), in the same transaction as the change; read with
   * manager.events() (docs/events.md).
   */
  audit?: { model: EventDelegate }
  /**
   * Hears every event once its change is committed (and credits running
   * out, which no change carries); with or without an audit model. What it
   * throws goes to onBackgroundError, never to the change's caller.
   */
  onEvent?: (event: ApiKeyEvent) => void | Promise<void>
  /** Called with errors that have no caller to go to (a failed lastUsedAt or re-hash write); default: a process warning (the plugin logs them). */
  onBackgroundError?: (err: unknown) => void
}

export type ChangeFeedOption =
  | { model: ChangeLogDelegate, pollInterval?: number }
  | { listen: () => ListenClient, channel?: string }

export interface UsageOption {
  model: UsageDelegate
  period?: UsagePeriodName
}

interface UsageSettings {
  model: UsageDelegate
  period: UsagePeriodName
  /** how often (ms) counts are added to the database */
  interval: number
}

type ChangeFeedSettings =
  | { model: ChangeLogDelegate, interval: number }
  | { listen: () => ListenClient, channel: string }

/** The expiry policy: null where the option was not given. */
export interface LifetimeSettings {
  max: number | null
  default: number | null
}

export interface CacheSettings {
  ttl: number
  size: number
}

export interface ThrottleSettings {
  maxFailures: number
  failureWindow: number
  delay: number
}

export interface ManagerSettings {
  model: ApiKeyDelegate
  brand: string
  scrypt: ScryptParams
  hashThreads: number
  hashQueue: number
  changeFeed: ChangeFeedSettings | null
  cache: CacheSettings
  throttle: ThrottleSettings
  lastUsedInterval: number
  include: Record<string, unknown> | undefined
  usable: UsableCheck<ApiKeyRecord> | null
  /** the pepper's HMAC keys, current first; null without a pepper */
  pepper: readonly KeyObject[] | null
  suspension: boolean
  ipAllowlist: boolean
  credits: boolean
  usage: UsageSettings | null
  lifetime: LifetimeSettings
  importedKeys: boolean
  audit: EventDelegate | null
  onEvent: ((event: ApiKeyEvent) => unknown) | null
  onBackgroundError: (err: unknown) => void
}

// N = 2^12, r = 8, p = 1: 4 MiB and ~30 ms per hash. Keys are 190-bit random
// secrets, so a higher cost buys no safety, only slower restarts (docs/security.md).
export const DEFAULT_SCRYPT: ScryptParams = Object.freeze({ ln: 12, r: 8, p: 1 })

export const MANAGER_OPTIONS = [
  'model', 'brand', 'scrypt', 'hashThreads', 'hashQueue', 'changeFeed', 'cacheTtl', 'cacheSize', 'maxFailures', 'failureWindow',
  'throttleDelay', 'lastUsedInterval', 'include', 'usable', 'pepper', 'suspension', 'ipAllowlist', 'credits', 'usage', 'maxLifetime', 'defaultLifetime',
  'importedKeys', 'audit', 'onEvent', 'onBackgroundError'
] as const

export const DEFAULTS = {
  // Half the cores, at least one: hashing is bursty, and the event loop and the
  // database driver need a core of their own to keep answering.
  hashThreads: Math.max(1, Math.floor(availableParallelism() / 2)),
  hashQueue: 100,
  // With a change feed the TTL is a safety net (a lost notification, a feed
  // that broke): changes arrive within a second, and a minute bounds the rest
  // at what hosted services document for every revocation. Without one, it is
  // the only way changes made elsewhere arrive.
  cacheTtl: 5_000,
  cacheTtlWithFeed: 60_000,
  pollInterval: 1_000,
  cacheSize: 10_000,
  maxFailures: 10,
  // One check a second once a burst is spent: a flood cannot lock a prefix's
  // owner out for long, and takes at most a hash a second per prefix.
  failureWindow: 10_000,
  throttleDelay: 1_000,
  lastUsedInterval: 60_000
} as const

function integer (o: Record<string, unknown>, name: string, min: number, max: number, fallback = DEFAULTS[name as keyof typeof DEFAULTS], label = name): number {
  const value = o[name] ?? fallback
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    fail(label, `expected an integer from ${min} to ${max}`)
  }
  return value as number
}

// PostgreSQL's identifiers, unquoted and lower case, as LISTEN takes them quoted.
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/

function changeFeed (value: unknown): ChangeFeedSettings | null {
  if (value === undefined) return null
  const shape = 'expected { model: prisma.apiKeyChange } (SQLite, MySQL) or { listen: () => new pg.Client(...) } (PostgreSQL)'
  if (!isPlainObject(value)) fail('changeFeed', shape)
  const o = value as Record<string, unknown>
  if (('listen' in o) === ('model' in o)) fail('changeFeed', shape)
  if ('listen' in o) {
    checkKnown(o, ['listen', 'channel'], (name, message) => fail(`changeFeed.${name}`, message))
    if (typeof o.listen !== 'function') fail('changeFeed.listen', 'expected a function returning a new, unconnected pg.Client')
    const channel = o.channel ?? 'api_key_changes'
    if (typeof channel !== 'string' || !CHANNEL.test(channel)) fail('changeFeed.channel', 'expected the channel the trigger notifies: lower-case letters, digits and _')
    return { listen: o.listen as () => ListenClient, channel }
  }
  checkKnown(o, ['model', 'pollInterval'], (name, message) => fail(`changeFeed.${name}`, message))
  for (const method of CHANGE_LOG_METHODS) {
    if (typeof (o.model as Record<string, unknown> | null)?.[method] !== 'function') {
      fail('changeFeed.model', `expected the change log's Prisma delegate such as prisma.apiKeyChange (missing ${method}())`)
    }
  }
  return { model: o.model as ChangeLogDelegate, interval: integer(o, 'pollInterval', 100, 60_000, DEFAULTS.pollInterval, 'changeFeed.pollInterval') }
}

// The usage counts' flush interval is lastUsedAt's: one timer's rhythm for
// both background writes. lastUsedInterval 0 turns lastUsedAt off, not the
// usage history: its counts are then flushed at lastUsedAt's default.
function usage (value: unknown, lastUsedInterval: number): UsageSettings | null {
  if (value === undefined) return null
  const shape = "expected { model: prisma.apiKeyUsage, period?: 'hour' | 'day' }"
  if (!isPlainObject(value)) fail('usage', shape)
  const o = value as Record<string, unknown>
  // The delegate itself, given for the object around it.
  if (!('model' in o) && typeof o.updateMany === 'function') fail('usage', shape)
  checkKnown(o, ['model', 'period'], (name, message) => fail(`usage.${name}`, message))
  for (const method of USAGE_METHODS) {
    if (typeof (o.model as Record<string, unknown> | null)?.[method] !== 'function') {
      fail('usage.model', `expected the usage model's Prisma delegate such as prisma.apiKeyUsage (missing ${method}())`)
    }
  }
  const period = o.period ?? 'day'
  if (period !== 'hour' && period !== 'day') fail('usage.period', "expected 'hour' or 'day'")
  return { model: o.model as UsageDelegate, period, interval: lastUsedInterval === 0 ? DEFAULTS.lastUsedInterval : lastUsedInterval }
}

function audit (value: unknown): EventDelegate | null {
  if (value === undefined) return null
  const shape = 'expected { model: prisma.apiKeyEvent }'
  if (!isPlainObject(value)) fail('audit', shape)
  const o = value as Record<string, unknown>
  // The delegate itself, given for the object around it.
  if (!('model' in o) && typeof o.findMany === 'function') fail('audit', shape)
  checkKnown(o, ['model'], (name, message) => fail(`audit.${name}`, message))
  for (const method of EVENT_METHODS) {
    if (typeof (o.model as Record<string, unknown> | null)?.[method] !== 'function') {
      fail('audit.model', `expected the audit model's Prisma delegate such as prisma.apiKeyEvent (missing ${method}())`)
    }
  }
  return o.model as EventDelegate
}

const DAY = 24 * 60 * 60 * 1000
// Ten years of 365 days: the longest any policy asks for, far below what Dates hold.
const MAX_LIFETIME = 10 * 365 * DAY

function lifetime (o: Record<string, unknown>): LifetimeSettings {
  const max = o.maxLifetime === undefined ? null : integer(o, 'maxLifetime', 60_000, MAX_LIFETIME)
  const fallback = o.defaultLifetime === undefined ? null : integer(o, 'defaultLifetime', 60_000, MAX_LIFETIME)
  if (max !== null && fallback !== null && fallback > max) fail('defaultLifetime', `must be at most maxLifetime (${max}): a new key must expire within it`)
  return { max, default: fallback }
}

// Without a handler, background failures become process warnings: seen, never thrown.
const warn = (err: unknown): void => { process.emitWarning(err as Error) }

export function normalizeManagerOptions (opts: unknown, known: readonly string[] = MANAGER_OPTIONS): ManagerSettings {
  if (!isPlainObject(opts)) fail('options', 'pass an object such as { model: prisma.apiKey }')
  const o = opts as Record<string, unknown>
  checkKnown(o, known, fail)
  const model = o.model as ApiKeyDelegate
  for (const method of DELEGATE_METHODS) {
    if (typeof (model as unknown as Record<string, unknown>)?.[method] !== 'function') {
      fail('model', `expected a Prisma model delegate such as prisma.apiKey (missing ${method}())`)
    }
  }
  const brand = o.brand ?? ''
  if (!isBrand(brand)) fail('brand', BRAND_RULE)
  if (o.scrypt !== undefined && !isPlainObject(o.scrypt)) fail('scrypt', 'expected an object { ln, r, p }')
  const scrypt = { ...DEFAULT_SCRYPT, ...(o.scrypt as Partial<ScryptParams> | undefined) }
  checkKnown(scrypt, ['ln', 'r', 'p'], (name, message) => fail(`scrypt.${name}`, message))
  const problem = paramsError(scrypt)
  if (problem !== null) fail('scrypt', problem)
  if (o.include !== undefined && (!isPlainObject(o.include) || Object.keys(o.include as object).length === 0)) {
    fail('include', 'expected a Prisma include object such as { organization: true }')
  }
  if (o.usable !== undefined && typeof o.usable !== 'function') fail('usable', 'expected a function (apiKey) => boolean')
  const pepper = o.pepper === undefined ? null : pepperKeys(o.pepper)
  if (o.pepper !== undefined && pepper === null) fail('pepper', PEPPER_RULE)
  if (o.suspension !== undefined && typeof o.suspension !== 'boolean') fail('suspension', 'expected true (disable and enable keys) or false')
  if (o.ipAllowlist !== undefined && typeof o.ipAllowlist !== 'boolean') fail('ipAllowlist', 'expected true (keys may list the addresses they are used from) or false')
  if (o.credits !== undefined && typeof o.credits !== 'boolean') fail('credits', 'expected true (keys may have a number of calls left, and refills) or false')
  if (o.importedKeys !== undefined && typeof o.importedKeys !== 'boolean') fail('importedKeys', 'expected true (keys imported from another system are verified and upgraded) or false')
  if (o.onEvent !== undefined && typeof o.onEvent !== 'function') fail('onEvent', 'expected a function (event) => void')
  if (o.onBackgroundError !== undefined && typeof o.onBackgroundError !== 'function') fail('onBackgroundError', 'expected a function (err) => void')
  const feed = changeFeed(o.changeFeed)
  const lastUsedInterval = integer(o, 'lastUsedInterval', 0, DAY)
  return {
    model,
    brand,
    scrypt,
    hashThreads: integer(o, 'hashThreads', 1, 64),
    hashQueue: integer(o, 'hashQueue', 0, 1_000_000),
    changeFeed: feed,
    cache: {
      ttl: integer(o, 'cacheTtl', 0, DAY, feed === null ? DEFAULTS.cacheTtl : DEFAULTS.cacheTtlWithFeed),
      size: integer(o, 'cacheSize', 1, 10_000_000)
    },
    throttle: {
      maxFailures: integer(o, 'maxFailures', 1, 1_000_000),
      failureWindow: integer(o, 'failureWindow', 1, DAY),
      delay: integer(o, 'throttleDelay', 0, 60_000)
    },
    lastUsedInterval,
    include: o.include as Record<string, unknown> | undefined,
    usable: (o.usable as UsableCheck<ApiKeyRecord> | undefined) ?? null,
    pepper,
    suspension: o.suspension === true,
    ipAllowlist: o.ipAllowlist === true,
    credits: o.credits === true,
    usage: usage(o.usage, lastUsedInterval),
    lifetime: lifetime(o),
    importedKeys: o.importedKeys === true,
    audit: audit(o.audit),
    onEvent: (o.onEvent as ManagerSettings['onEvent'] | undefined) ?? null,
    onBackgroundError: (o.onBackgroundError as ManagerSettings['onBackgroundError'] | undefined) ?? warn
  }
}
