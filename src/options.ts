import { availableParallelism } from 'node:os'
import { errors } from './errors.js'
import { paramsError, type ScryptParams } from './hash-format.js'
import { BRAND_PATTERN } from './key-format.js'
import type { GetKey } from './credentials.js'
import { DELEGATE_METHODS, type ApiKeyDelegate, type ApiKeyRecord } from './store.js'
import type { RegisteredApiKey } from './types.js'
import type { UsableCheck } from './types.js'

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
  /** How long (ms) a key's row is trusted before it is read again; 0 reads it on every check. */
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
}

export interface CacheSettings {
  ttl: number
  size: number
  maxFailures: number
  failureWindow: number
  throttleDelay: number
}

export interface ManagerSettings {
  model: ApiKeyDelegate
  brand: string
  scrypt: ScryptParams
  hashThreads: number
  hashQueue: number
  cache: CacheSettings
  lastUsedInterval: number
  include: Record<string, unknown> | undefined
  usable: UsableCheck<ApiKeyRecord> | null
}

// N = 2^12, r = 8, p = 1: 4 MiB and ~30 ms per hash. Keys are 190-bit random
// secrets, so a higher cost buys no safety, only slower restarts (docs/security.md).
export const DEFAULT_SCRYPT: ScryptParams = Object.freeze({ ln: 12, r: 8, p: 1 })

export function fail (name: string, message: string): never {
  throw new errors.INVALID_OPTION(name, message)
}

// An object literal (or Object.create(null)): not an array, a Date, a class instance.
export function isPlainObject (value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

export function checkKnown (opts: Record<string, unknown>, known: readonly string[], fail: (name: string, message: string) => never): void {
  for (const name of Object.keys(opts)) {
    if (opts[name] !== undefined && !known.includes(name)) fail(name, `unknown option, expected one of ${known.join(', ')}`)
  }
}

export const MANAGER_OPTIONS = [
  'model', 'brand', 'scrypt', 'hashThreads', 'hashQueue', 'cacheTtl', 'cacheSize', 'maxFailures', 'failureWindow',
  'throttleDelay', 'lastUsedInterval', 'include', 'usable'
] as const

export const DEFAULTS = {
  // Half the cores, at least one: hashing is bursty, and the event loop and the
  // database driver need a core of their own to keep answering.
  hashThreads: Math.max(1, Math.floor(availableParallelism() / 2)),
  hashQueue: 100,
  cacheTtl: 5_000,
  cacheSize: 10_000,
  maxFailures: 10,
  // One check a second once a burst is spent: a flood cannot lock a prefix's
  // owner out for long, and takes at most a hash a second per prefix.
  failureWindow: 10_000,
  throttleDelay: 1_000,
  lastUsedInterval: 60_000
} as const

function integer (o: Record<string, unknown>, name: keyof typeof DEFAULTS, min: number, max: number): number {
  const value = o[name] ?? DEFAULTS[name]
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    fail(name, `expected an integer from ${min} to ${max}`)
  }
  return value as number
}

const DAY = 24 * 60 * 60 * 1000

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
  if (typeof brand !== 'string' || (brand !== '' && !BRAND_PATTERN.test(brand))) {
    fail('brand', 'use 1 to 32 characters from A-Z, a-z, 0-9, _ and -')
  }
  if (o.scrypt !== undefined && !isPlainObject(o.scrypt)) fail('scrypt', 'expected an object { ln, r, p }')
  const scrypt = { ...DEFAULT_SCRYPT, ...(o.scrypt as Partial<ScryptParams> | undefined) }
  checkKnown(scrypt, ['ln', 'r', 'p'], (name, message) => fail(`scrypt.${name}`, message))
  const problem = paramsError(scrypt)
  if (problem !== null) fail('scrypt', problem)
  if (o.include !== undefined && (!isPlainObject(o.include) || Object.keys(o.include as object).length === 0)) {
    fail('include', 'expected a Prisma include object such as { organization: true }')
  }
  if (o.usable !== undefined && typeof o.usable !== 'function') fail('usable', 'expected a function (apiKey) => boolean')
  return {
    model,
    brand,
    scrypt,
    hashThreads: integer(o, 'hashThreads', 1, 64),
    hashQueue: integer(o, 'hashQueue', 0, 1_000_000),
    cache: {
      ttl: integer(o, 'cacheTtl', 0, DAY),
      size: integer(o, 'cacheSize', 1, 10_000_000),
      maxFailures: integer(o, 'maxFailures', 1, 1_000_000),
      failureWindow: integer(o, 'failureWindow', 1, DAY),
      throttleDelay: integer(o, 'throttleDelay', 0, 60_000)
    },
    lastUsedInterval: integer(o, 'lastUsedInterval', 0, DAY),
    include: o.include as Record<string, unknown> | undefined,
    usable: (o.usable as UsableCheck<ApiKeyRecord> | undefined) ?? null
  }
}

export type HookName = 'preHandler' | 'onRequest'

export interface ApiKeyPluginOptions extends ApiKeyManagerOptions {
  /** The header that carries the key (default `authorization`). */
  header?: string
  /** The scheme before the key: `Api-Key` on `authorization`, none on other headers. */
  keyword?: string | null
  /** Reads the key from the request in any other way; replaces header/keyword. */
  getKey?: GetKey
  /** The route hook that checks the key (default `preHandler`). */
  hook?: HookName
  /** The realm in `WWW-Authenticate` (default none). */
  realm?: string
  /**
   * Names this registration (default `apiKey`): the request property, the route
   * config key, `fastify.<name>s` (the manager) and `fastify.verify<Name>`.
   */
  decorator?: string
  /** Documents protected routes under this OpenAPI security scheme (with @fastify/swagger; docs/recipes.md). */
  securityScheme?: string
}

export interface PluginSettings {
  manager: ManagerSettings
  header: string
  keyword: string | null
  getKey: GetKey | null
  hook: HookName
  challenge: string
  decorator: string
  securityScheme: string | null
}

const PLUGIN_OPTIONS = [...MANAGER_OPTIONS, 'header', 'keyword', 'getKey', 'hook', 'realm', 'decorator', 'securityScheme'] as const
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Where the key travels: the header (lower case) and the scheme before the key, if any. */
export function headerOptions (o: Pick<ApiKeyPluginOptions, 'header' | 'keyword'>): { header: string, keyword: string | null } {
  const header = o.header ?? 'authorization'
  if (typeof header !== 'string' || !TOKEN.test(header)) fail('header', 'expected a header name such as x-api-key')
  const keyword = o.keyword === undefined ? (header.toLowerCase() === 'authorization' ? 'Api-Key' : null) : o.keyword
  if (keyword !== null && (typeof keyword !== 'string' || !TOKEN.test(keyword))) {
    fail('keyword', 'expected an authentication scheme such as Api-Key (letters, digits and -._~+ only), or null')
  }
  return { header: header.toLowerCase(), keyword }
}

export function normalizePluginOptions (opts: unknown): PluginSettings {
  const manager = normalizeManagerOptions(opts, PLUGIN_OPTIONS)
  const o = opts as ApiKeyPluginOptions
  const { header, keyword } = headerOptions(o)
  if (o.getKey !== undefined && typeof o.getKey !== 'function') fail('getKey', 'expected a function (request) => string | undefined')
  if (o.getKey !== undefined && (o.header !== undefined || o.keyword !== undefined)) {
    fail('getKey', 'replaces header and keyword: give one or the others')
  }
  const hook = o.hook ?? 'preHandler'
  if (hook !== 'preHandler' && hook !== 'onRequest') fail('hook', "expected 'preHandler' or 'onRequest'")
  if (o.realm !== undefined && (typeof o.realm !== 'string' || /["\\\r\n]/.test(o.realm))) {
    fail('realm', 'expected a string without quotes, backslashes or line breaks')
  }
  const decorator = o.decorator ?? 'apiKey'
  if (typeof decorator !== 'string' || !IDENTIFIER.test(decorator)) fail('decorator', 'expected a JavaScript identifier such as partnerKey')
  if (o.securityScheme !== undefined && (typeof o.securityScheme !== 'string' || o.securityScheme === '')) {
    fail('securityScheme', 'expected the name of a security scheme in your OpenAPI components, such as apiKey')
  }
  const scheme = keyword ?? 'Api-Key'
  return {
    manager,
    header,
    keyword,
    getKey: o.getKey ?? null,
    hook,
    challenge: o.realm === undefined ? scheme : `${scheme} realm="${o.realm}"`,
    decorator,
    securityScheme: o.securityScheme ?? null
  }
}
