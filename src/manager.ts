import { errors } from './errors.js'
import { Hasher } from './hasher.js'
import { generateKey, keyInText, keyPattern } from './key-format.js'
import { LastUsedWriter } from './last-used.js'
import { isPlainObject, normalizeManagerOptions, type ApiKeyManagerOptions, type ManagerSettings } from './options.js'
import { serializeScopes } from './scopes.js'
import { keyStatus, STATUSES, statusWhere, type ApiKeyStatus } from './status.js'
import { isUniqueViolation, Store } from './store.js'
import type { ApiKeyRecord, GrantableScope, RegisteredApiKey, UsableCheck, VerifyResult } from './types.js'
import { Verifier } from './verifier.js'

export type { VerifyFailure, VerifyResult } from './types.js'

export interface CreateInput {
  name: string
  expiresAt?: Date | null
  /** What the key may do (docs/scopes.md); none by default. */
  scopes?: GrantableScope[]
  /** Extra columns of a custom model (e.g. organizationId). */
  [field: string]: unknown
}

export interface RotateInput {
  /** How long (ms) the replaced secret keeps working; 0 (the default) ends it at once. */
  gracePeriod?: number
}

export interface ListInput {
  status?: ApiKeyStatus
  /** Extra Prisma `where` conditions, ANDed with the status filter. */
  where?: Record<string, unknown>
  /** Page size, 1 to 500 (default 50). */
  take?: number
  skip?: number
}

export interface ApiKeyManager<R extends ApiKeyRecord = ApiKeyRecord> {
  /** Matches every key this manager issues (publish it for secret scanners). */
  readonly keyPattern: RegExp
  create (input: CreateInput): Promise<{ apiKey: R, key: string }>
  verify (key: unknown): Promise<VerifyResult<R>>
  get (id: string): Promise<R | null>
  list (input?: ListInput): Promise<{ items: R[], total: number }>
  update (id: string, data: Record<string, unknown>): Promise<R>
  revoke (id: string): Promise<R>
  /** A new secret for the same key, shown once; the old one works for gracePeriod ms more. */
  rotate (id: string, input?: RotateInput): Promise<{ apiKey: R, key: string }>
  status (apiKey: R): ApiKeyStatus
  /** Writes pending lastUsedAt marks now (close() does it too). */
  flush (): Promise<void>
  /** Flushes lastUsedAt and stops the hashing threads; the manager cannot verify or create after it. */
  close (): Promise<void>
  /** Called with errors that have no caller to go to (a failed lastUsedAt or re-hash write). */
  onBackgroundError: (err: unknown) => void
}

// Columns the library owns: a caller may not set them through create/update.
const RESERVED = ['id', 'prefix', 'hashedKey', 'previousHashedKey', 'previousKeyExpiresAt', 'createdAt', 'lastUsedAt']
const PREFIX_ATTEMPTS = 5
// Concurrent rotations of one key: each retry starts from the hash that won.
const ROTATE_ATTEMPTS = 5
const YEAR = 365 * 24 * 60 * 60 * 1000

function badArgument (name: string, message: string): never {
  throw new errors.INVALID_ARGUMENT(name, message)
}

function checkId (id: unknown, secret: RegExp): asserts id is string {
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

export function createApiKeyManager<R extends ApiKeyRecord = RegisteredApiKey> (options: ApiKeyManagerOptions): ApiKeyManager<R> {
  return buildManager(normalizeManagerOptions(options))
}

export function buildManager<R extends ApiKeyRecord = ApiKeyRecord> (settings: ManagerSettings): ApiKeyManager<R> {
  const store = new Store<R>(settings.model, settings.include)
  const hasher = new Hasher(settings.scrypt, settings.hashThreads, settings.hashQueue)
  const { brand } = settings
  const pattern = keyPattern(brand)
  const secret = keyInText(brand)
  const reportError = (err: unknown): void => manager.onBackgroundError(err)
  const verifier = new Verifier<R>(store, hasher, {
    brand,
    pattern,
    ttl: settings.cache.ttl,
    size: settings.cache.size,
    maxFailures: settings.cache.maxFailures,
    failureWindow: settings.cache.failureWindow,
    throttleDelay: settings.cache.throttleDelay,
    usable: settings.usable as UsableCheck<R> | null,
    onError: reportError
  })
  const lastUsed = new LastUsedWriter(store, settings.lastUsedInterval, reportError)

  let closed = false
  const checkOpen = (what: string): void => { if (closed) throw new errors.CLOSED(what) }

  async function create (input: CreateInput): Promise<{ apiKey: R, key: string }> {
    checkOpen('create keys')
    if (!isPlainObject(input)) badArgument('input', 'expected an object such as { name }')
    if (input.name === undefined) throw new errors.NAME_REQUIRED()
    if (input.revoked !== undefined) badArgument('revoked', 'a new key cannot be created revoked')
    const data = checkFields(input, secret, true)
    for (let attempt = 0; attempt < PREFIX_ATTEMPTS; attempt++) {
      const { prefix, key } = generateKey(brand)
      const hashedKey = await hasher.hash(key)
      try {
        const apiKey = await store.create({ ...data, expiresAt: input.expiresAt ?? null, prefix, hashedKey })
        return { apiKey, key }
      } catch (err) {
        // The connection may have dropped after the insert committed: the
        // error carries the prefix, so the caller can look for (and revoke) a
        // row whose secret nobody received once the store is back.
        if ((err as { code?: unknown }).code === 'FST_API_KEY_UNAVAILABLE') Object.assign(err as object, { prefix })
        // Another key took this prefix (2^-47 per pair): draw again. A unique
        // violation on a column of the user's own is theirs to see.
        if (!isUniqueViolation(err) || !(await store.prefixExists(prefix))) throw err
      }
    }
    throw new errors.PREFIX_EXHAUSTED(PREFIX_ATTEMPTS)
  }

  async function verify (key: unknown): Promise<VerifyResult<R>> {
    checkOpen('verify keys')
    const result = await verifier.verify(key)
    if (result.valid) lastUsed.touch(result.apiKey.id, Date.now())
    return result
  }

  async function get (id: string): Promise<R | null> {
    checkId(id, secret)
    return await store.get({ id })
  }

  async function list (input: ListInput = {}): Promise<{ items: R[], total: number }> {
    if (!isPlainObject(input)) badArgument('input', 'expected an object')
    const { status, where = {}, take = 50, skip = 0 } = input
    if (status !== undefined && !STATUSES.includes(status)) badArgument('status', `expected one of ${STATUSES.join(', ')}`)
    if (!isPlainObject(where)) badArgument('where', 'expected a Prisma where object')
    if (!Number.isInteger(take) || take < 1 || take > 500) badArgument('take', 'expected an integer from 1 to 500')
    if (!Number.isInteger(skip) || skip < 0) badArgument('skip', 'expected a non-negative integer')
    const filter = status === undefined ? where : { AND: [where, statusWhere(status, new Date())] }
    return await store.list(filter, take, skip)
  }

  async function update (id: string, data: Record<string, unknown>): Promise<R> {
    checkId(id, secret)
    if (!isPlainObject(data)) badArgument('data', 'expected an object')
    const changes = checkFields(data, secret)
    if (data.revoked !== undefined && typeof data.revoked !== 'boolean') badArgument('revoked', 'expected a boolean')
    if (changes.revoked === false) {
      // Never written: revoked is only ever set to true, so there is no race
      // in which this call could bring a key back.
      delete changes.revoked
      const current = await store.get({ id })
      if (current?.revoked === true) throw new errors.UNREVOKE(id)
    }
    const updated = await store.update(id, changes)
    if (updated === null) throw new errors.NOT_FOUND(id)
    verifier.invalidate(updated.prefix)
    return updated
  }

  async function rotate (id: string, input: RotateInput = {}): Promise<{ apiKey: R, key: string }> {
    checkOpen('rotate keys')
    checkId(id, secret)
    if (!isPlainObject(input)) badArgument('input', 'expected an object such as { gracePeriod: 3600000 }')
    const { gracePeriod = 0 } = input
    if (!Number.isInteger(gracePeriod) || gracePeriod < 0 || gracePeriod > YEAR) {
      badArgument('gracePeriod', `expected milliseconds, an integer from 0 to ${YEAR} (a year)`)
    }
    for (let attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
      const current = await store.secretOf(id)
      if (current === null) throw new errors.NOT_FOUND(id)
      if (current.revoked) throw new errors.NOT_ROTATABLE(id)
      const { prefix } = current
      const { key } = generateKey(brand, prefix)
      const hashedKey = await hasher.hash(key)
      if (await store.rotate(id, current.hashedKey, hashedKey, new Date(Date.now() + gracePeriod))) {
        verifier.invalidate(prefix)
        const apiKey = await store.get({ id })
        // Deleted between the two statements: the new key exists nowhere.
        if (apiKey === null) throw new errors.NOT_FOUND(id)
        return { apiKey, key }
      }
    }
    throw new errors.ROTATE_CONFLICT(id, ROTATE_ATTEMPTS)
  }

  const manager: ApiKeyManager<R> = {
    keyPattern: pattern,
    create,
    verify,
    get,
    list,
    update,
    revoke: async (id) => await update(id, { revoked: true }),
    rotate,
    status: (apiKey) => {
      if (!isPlainObject(apiKey) || typeof apiKey?.revoked !== 'boolean' || !(apiKey.expiresAt === null || apiKey.expiresAt instanceof Date)) {
        badArgument('apiKey', 'expected a key record (with revoked and expiresAt), as returned by get() or list()')
      }
      return keyStatus(apiKey, Date.now())
    },
    flush: async () => await lastUsed.flush(),
    close: async () => {
      closed = true
      verifier.close()
      try {
        await lastUsed.close()
      } finally {
        await hasher.close()
      }
    },
    // Without a handler (the plugin logs them), such errors become process warnings.
    onBackgroundError: (err) => process.emitWarning(err as Error)
  }
  return manager
}
