import { Audit } from './audit.js'
import { CreditLedger, type CreditRecord, type Payment } from './credits.js'
import { listenForChanges, pollChangeLog, type ChangeFeed, type ChangeHandlers } from './change-feed.js'
import { errors } from './errors.js'
import { actorOf, changesOf, checkEvents, checkLeak, updateEvent, type ApiKeyEvent, type ChangeContext, type EventDraft, type EventsInput, type LeakReport } from './events.js'
import { Hasher } from './hasher.js'
import { checkExpired, sweepExpired, type RecordExpiredInput } from './expired.js'
import { checkIdle, sweepIdle, type RevokeIdleInput } from './idle.js'
import { generateKey, keyInText, keyPattern, PREFIX_LENGTH } from './key-format.js'
import { LastUsedWriter } from './last-used.js'
import { checkNewExpiry, expiryOfNewKey } from './lifetime.js'
import {
  checkCost, checkCreate, checkGrace, checkId, checkImport, checkList, checkRecord, checkUpdate, checkUsage, CREDITS_OFF, SUSPENSION_OFF,
  type CreateInput, type Features, type ImportInput, type ListInput, type RotateInput, type UsageInput
} from './manager-input.js'
import { normalizeManagerOptions, type ApiKeyManagerOptions, type ManagerSettings } from './options.js'
import { keyStatus, statusesOf, type ApiKeyStatus } from './status.js'
import { isUniqueViolation, Store } from './store.js'
import type { ApiKeyRecord, ClientAddress, RegisteredApiKey, UsableCheck, VerifyResult } from './types.js'
import { UsageCounter, type UsagePeriodName } from './usage.js'
import { UsageStore, type UsagePeriod } from './usage-store.js'
import { Verifier } from './verifier.js'

export type { CreateInput, ImportInput, ImportSource, ListInput, RotateInput, UsageInput } from './manager-input.js'
export type { RevokeIdleInput } from './idle.js'
export type { RecordExpiredInput } from './expired.js'
export type { ApiKeyEvent, ApiKeyEventType, ChangeContext, EventsInput, FieldChange, LeakReport } from './events.js'
export type { UsagePeriod } from './usage-store.js'
export type { Payment } from './credits.js'
export type { VerifyFailure, VerifyResult } from './types.js'

/**
 * Creates, checks and manages keys of one Prisma model. The plugin builds one
 * (`fastify.apiKeys`); `createApiKeyManager` builds one for scripts and jobs.
 */
export interface ApiKeyManager<R extends ApiKeyRecord = ApiKeyRecord> {
  /** Matches every key this manager issues (publish it for secret scanners). */
  readonly keyPattern: RegExp
  /** The statuses list() filters by and status() returns: 'disabled' only with `suspension: true`. */
  readonly statuses: readonly ApiKeyStatus[]
  /** The optional features this manager was built with (their options); `usage` is the history's period, or null without one; `audit`: an audit model records events. */
  readonly features: Readonly<Features & { usage: UsagePeriodName | null, audit: boolean, importedKeys: boolean }>
  /**
   * A new key: its record, and the key itself, which is shown this once
   * (only its hash is stored).
   * @example
   * const { apiKey, key } = await fastify.apiKeys.create({ name: 'billing-service', scopes: ['invoices:read'] })
   */
  create (input: CreateInput, context?: ChangeContext): Promise<{ apiKey: R, key: string }>
  /**
   * Imports a key from djangorestframework-api-key or a SHA-256 system by its
   * hash (the `importedKeys` option; docs/migrating.md): the key keeps working,
   * and its hash is replaced by scrypt on its first use. A prefix imported
   * before is skipped (`imported: false`), so a re-run is harmless; a hash
   * this library cannot verify is refused (FST_API_KEY_IMPORT_HASH).
   * @example
   * const { imported } = await manager.importKey({ from: 'drf-api-key', prefix: row.prefix, hashedKey: row.hashed_key, name: row.name, revoked: row.revoked })
   */
  importKey (input: ImportInput, context?: ChangeContext): Promise<{ apiKey: R, imported: boolean }>
  /**
   * Checks a presented key: `{ valid: true, apiKey }`, or `{ valid: false, reason }`.
   * Throws FST_API_KEY_UNAVAILABLE (503) when the store cannot answer, FST_API_KEY_BUSY when the hash queue is full.
   * @example
   * const result = await manager.verify(request.headers['x-api-key'])
   * if (!result.valid) console.log(result.reason) // 'unknown', 'wrong_secret', 'revoked', ...
   * `ip` is where the call comes from (request.ip, or a function giving it): a key with an allowlist is refused without it.
   */
  verify (key: unknown, ip?: ClientAddress): Promise<VerifyResult<R>>
  /**
   * verify's answer when this instance can give it from memory (the key
   * matched before and its row is fresh in the cache), synchronously; null
   * when it needs the database or a hash: then call verify.
   */
  verifyCached (key: string, ip?: ClientAddress): VerifyResult<R> | null
  /**
   * Pays `cost` credits (default 1) of a verified key (the credits feature):
   * `{ paid: true }`, or `{ paid: false, retryAfter }` (seconds until the
   * next refill, null when none is due). The plugin calls it for every
   * route; call it yourself after verify() outside Fastify. A key without
   * credits always pays. Throws FST_API_KEY_UNAVAILABLE when the store
   * cannot answer, FST_API_KEY_FEATURE_OFF without the option.
   * @example
   * const payment = await manager.spend(result.apiKey, 5)
   * if (!payment.paid) console.log(`out of credits, try again in ${payment.retryAfter} s`)
   */
  spend (apiKey: R, cost?: number): Promise<Payment>
  /** spend's answer from this instance's reserved credits, synchronously; null when it needs the database: then call spend. */
  spendCached (apiKey: R, cost: number): Payment | null
  /** The key's credits left, as this instance knows them (its reserved ones included); null for unlimited. */
  balance (apiKey: R): number | null
  /** One key's record by id, or null. */
  get (id: string): Promise<R | null>
  /**
   * A page of records, newest first, and how many match.
   * @example
   * const { items, total } = await manager.list({ status: 'active', take: 20 })
   */
  list (input?: ListInput): Promise<{ items: R[], total: number }>
  /**
   * Changes name, expiry, scopes or columns of your own; `revoked: true` revokes.
   * @example
   * await manager.update(id, { expiresAt: new Date('2030-01-01T00:00:00Z') })
   */
  update (id: string, data: Record<string, unknown>, context?: ChangeContext): Promise<R>
  /**
   * Revokes a key, permanently: refused at once on this instance; on others
   * within about a second with a change feed, within `cacheTtl` without.
   * @example
   * await fastify.apiKeys.revoke(apiKey.id)
   */
  revoke (id: string, context?: ChangeContext): Promise<R>
  /**
   * Revokes every key not used for `unusedFor` ms (by lastUsedAt, written
   * once per lastUsedInterval; since createdAt for a key never used), in
   * batches; with `dryRun`, only lists them. Returns the keys as found,
   * marked revoked. Refused at once here, elsewhere as any revocation is.
   * @example
   * const { revoked } = await manager.revokeIdle({ unusedFor: 90 * 24 * 60 * 60 * 1000 })
   */
  revokeIdle (input: RevokeIdleInput, context?: ChangeContext): Promise<{ revoked: R[] }>
  /**
   * Records an 'expired' event for every key, not revoked, whose expiresAt
   * has passed and whose expiry the audit log does not hold yet (nothing is
   * written when a key expires: run it from a job). Returns those keys; with
   * `dryRun`, records nothing. Needs the `audit` option.
   * @example
   * const { expired } = await manager.recordExpired()
   */
  recordExpired (input?: RecordExpiredInput, context?: ChangeContext): Promise<{ expired: R[] }>
  /**
   * Suspends a key (`suspension: true`): it is refused (401 FST_API_KEY_DISABLED)
   * until enable(id), here at once, elsewhere as a revocation is.
   * @example
   * await fastify.apiKeys.disable(apiKey.id)
   */
  disable (id: string, context?: ChangeContext): Promise<R>
  /**
   * Lifts a suspension; a revoked key stays revoked (409 FST_API_KEY_ENABLE_REVOKED).
   * @example
   * await fastify.apiKeys.enable(apiKey.id)
   */
  enable (id: string, context?: ChangeContext): Promise<R>
  /**
   * A new secret for the same key, shown once; the old one works for gracePeriod ms more.
   * @example
   * const { key } = await manager.rotate(id, { gracePeriod: 24 * 60 * 60 * 1000 })
   */
  rotate (id: string, input?: RotateInput, context?: ChangeContext): Promise<{ apiKey: R, key: string }>
  /**
   * Records that a key leaked (the secret-scanning receiver calls it): a
   * 'leaked' event with where it was found, and with `revoke` the revocation,
   * in the same transaction. `revoked` says whether this call revoked it.
   */
  reportLeak (id: string, leak: LeakReport, context?: ChangeContext): Promise<{ apiKey: R, revoked: boolean }>
  /**
   * A key's events from the audit log, newest first (the `audit` option);
   * `before` pages back. Throws FST_API_KEY_FEATURE_OFF without it.
   * @example
   * const events = await fastify.apiKeys.events(apiKey.id, { take: 20 })
   * for (const { type, actor, at } of events) console.log(at, type, actor)
   */
  events (id: string, input?: EventsInput): Promise<ApiKeyEvent[]>
  /** 'active', 'disabled', 'revoked' or 'expired', now, for a record returned by get or list. */
  status (apiKey: R): ApiKeyStatus
  /**
   * A key's accepted checks per period (the `usage` option's hour or day, in
   * UTC), oldest first, only periods with any: those from the one holding
   * `from` (default 30 days ago) to those starting before `to` (default: the
   * current one included). Counts reach the database at each flush, from every instance.
   * Throws FST_API_KEY_FEATURE_OFF without the `usage` option.
   * @example
   * const periods = await fastify.apiKeys.usage(apiKey.id, { from: new Date('2026-11-01T00:00:00Z') })
   * const total = periods.reduce((sum, { count }) => sum + count, 0)
   */
  usage (id: string, input?: UsageInput): Promise<UsagePeriod[]>
  /** Writes pending lastUsedAt marks and usage counts now (close() does it too). */
  flush (): Promise<void>
  /** Flushes lastUsedAt and usage counts, gives back reserved credits, and stops the hashing threads; the manager cannot verify or create after it. */
  close (): Promise<void>
}

const PREFIX_ATTEMPTS = 5
// A prefix a new secret can go with: drf-api-key's imported keys have one; other systems' may not.
const OWN_PREFIX = new RegExp(`^[0-9A-Za-z]{${PREFIX_LENGTH}}$`)
const IMPORTED_OFF = 'pass importedKeys: true to the plugin or createApiKeyManager (the model needs an `importedFrom String?` column; docs/migrating.md)'
// Concurrent rotations of one key: each retry starts from the hash that won.
const ROTATE_ATTEMPTS = 5

/**
 * A manager outside Fastify: for scripts, jobs and the CLI's config module.
 * Close it when done (it holds hashing threads).
 * @example
 * const manager = createApiKeyManager({ model: prisma.apiKey })
 * const { key } = await manager.create({ name: 'nightly-export' })
 * await manager.close()
 */
export function createApiKeyManager<R extends ApiKeyRecord = RegisteredApiKey> (options: ApiKeyManagerOptions): ApiKeyManager<R> {
  const settings = normalizeManagerOptions(options)
  const { manager, ready } = buildManager<R>(settings)
  ready.catch(settings.onBackgroundError)
  return manager
}

/** A manager, and when its change feed is running (at once without one; rejects with NOT_MIGRATED). */
export function buildManager<R extends ApiKeyRecord = ApiKeyRecord> (settings: ManagerSettings): { manager: ApiKeyManager<R>, ready: Promise<void> } {
  const { suspension, ipAllowlist, credits } = settings
  const features = { suspension, ipAllowlist, credits }
  const store = new Store<R>(settings.model, { include: settings.include, hmac: settings.pepper !== null, ...features })
  const hasher = new Hasher(settings.scrypt, settings.hashThreads, settings.hashQueue)
  const { brand } = settings
  const pattern = keyPattern(brand)
  const secret = keyInText(brand)
  const { onBackgroundError } = settings
  const verifier = new Verifier<R>(store, hasher, {
    brand,
    pattern,
    cache: settings.cache,
    throttle: settings.throttle,
    usable: settings.usable as UsableCheck<R> | null,
    pepper: settings.pepper,
    credits,
    importedKeys: settings.importedKeys,
    onError: onBackgroundError
  })
  const audit = new Audit<R>(settings.model, store, { include: settings.include, hmac: settings.pepper !== null, ...features }, {
    model: settings.audit,
    onEvent: settings.onEvent,
    onError: onBackgroundError
  })
  // Once per key running out on this instance, until it pays again.
  const ledger = credits ? new CreditLedger(store, (record, retryAfter) => audit.notice(notice('credits_exhausted', record as unknown as R, { retryAfter }))) : null
  const lastUsed = new LastUsedWriter(store, settings.lastUsedInterval, onBackgroundError)
  const history = usageHistory(settings)
  const feed = startFeed(settings, {
    changed: (prefix) => verifier.invalidate(prefix),
    resync: () => verifier.resync(),
    broken: onBackgroundError
  })

  let closed = false
  const checkOpen = (what: string): void => { if (closed) throw new errors.CLOSED(what) }

  async function create (input: CreateInput, context?: ChangeContext): Promise<{ apiKey: R, key: string }> {
    checkOpen('create keys')
    const data = checkCreate(input, secret, features)
    const actor = actorOf(context, secret)
    data.expiresAt = expiryOfNewKey(data.expiresAt as Date | null, settings.lifetime, Date.now())
    for (let attempt = 0; attempt < PREFIX_ATTEMPTS; attempt++) {
      const { prefix, key } = generateKey(brand)
      const hashedKey = await hasher.hash(key)
      try {
        const written = { ...data, prefix, hashedKey }
        const apiKey = await audit.change(async (store) => {
          const created = await store.create(written)
          return { result: created, events: [{ type: 'created', keyId: created.id, prefix, actor, changes: changesOf(Object.keys(written), null, created), details: null }] }
        })
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

  async function importKey (input: ImportInput, context?: ChangeContext): Promise<{ apiKey: R, imported: boolean }> {
    if (!settings.importedKeys) throw new errors.FEATURE_OFF('importedKeys', IMPORTED_OFF)
    checkOpen('import keys')
    const data = checkImport(input, secret, features)
    const actor = actorOf(context, secret)
    const prefix = data.prefix as string
    // Imported before (a re-run): left as it is, its hash maybe upgraded since.
    const skipped = (found: R): { apiKey: R, imported: boolean } => {
      // A case-insensitive collation (MySQL's default) finds another key's prefix.
      if (found.prefix !== prefix) throw new errors.IMPORT_CONFLICT(prefix, `the database takes it for ${found.prefix}, another key's (a case-insensitive collation)`)
      if (found.importedFrom == null) throw new errors.IMPORT_CONFLICT(prefix, 'a key issued here has that prefix')
      return { apiKey: found, imported: false }
    }
    const existing = await store.get({ prefix })
    if (existing !== null) return skipped(existing)
    try {
      const apiKey = await audit.change(async (store) => {
        const created = await store.create(data)
        const details = { importedFrom: data.importedFrom }
        return { result: created, events: [{ type: 'created', keyId: created.id, prefix, actor, changes: changesOf(Object.keys(data), null, created), details }] }
      })
      return { apiKey, imported: true }
    } catch (err) {
      // Imported meanwhile by another run: the same as finding it.
      const raced = isUniqueViolation(err) ? await store.get({ prefix }) : null
      if (raced === null) throw err
      return skipped(raced)
    }
  }

  async function verify (key: unknown, ip?: ClientAddress): Promise<VerifyResult<R>> {
    checkOpen('verify keys')
    const result = await verifier.verify(key, ip)
    if (result.valid) used(result.apiKey.id, Date.now())
    return result
  }

  function verifyCached (key: string, ip?: ClientAddress): VerifyResult<R> | null {
    if (closed || typeof key !== 'string') return null
    const now = Date.now()
    const result = verifier.fromMemory(key, now, ip)
    if (result?.valid === true) used(result.apiKey.id, now)
    return result
  }

  function used (id: string, now: number): void {
    lastUsed.touch(id, now)
    history?.counter.count(id, now)
  }

  async function usage (id: string, input: UsageInput = {}): Promise<UsagePeriod[]> {
    if (history === null) {
      throw new errors.FEATURE_OFF('usage history', 'pass usage: { model: prisma.apiKeyUsage } to the plugin or createApiKeyManager (docs/usage.md)')
    }
    checkId(id, secret)
    const { from, to } = checkUsage(input, history.period, Date.now())
    return await history.store.range(id, from, to)
  }

  async function get (id: string): Promise<R | null> {
    checkId(id, secret)
    return await store.get({ id })
  }

  async function list (input: ListInput = {}): Promise<{ items: R[], total: number }> {
    const { where, take, skip } = checkList(input, new Date(), suspension)
    return await store.list(where, take, skip)
  }

  async function update (id: string, data: Record<string, unknown>, context?: ChangeContext): Promise<R> {
    checkId(id, secret)
    const changes = checkUpdate(data, secret, features)
    const actor = actorOf(context, secret)
    if (changes.revoked === false) {
      // Never written: revoked is only ever set to true, so there is no race
      // in which this call could bring a key back.
      delete changes.revoked
      const current = await store.get({ id })
      if (current?.revoked === true) throw new errors.UNREVOKE(id)
    }
    // A revoke landing after this read wins anyway: status reads revoked first.
    const { max } = settings.lifetime
    if (max !== null && changes.expiresAt !== undefined) {
      const current = await store.get({ id })
      if (current === null) throw new errors.NOT_FOUND(id)
      checkNewExpiry(changes.expiresAt as Date | null, current.createdAt, max)
    }
    if (changes.disabled === false && changes.revoked !== true && (await store.get({ id }))?.revoked === true) throw new errors.ENABLE_REVOKED(id)
    const updated = await audit.change(async (store) => {
      // What the row held, to tell what changed: read only for someone to tell.
      const before = audit.listening ? await store.get({ id }) : null
      const after = await store.update(id, changes)
      const event = after === null ? null : updateEvent(after, changesOf(Object.keys(changes), before, after), actor)
      return { result: after, events: event === null ? [] : [event] }
    })
    if (updated === null) throw new errors.NOT_FOUND(id)
    if (changes.credits !== undefined) ledger?.forget(id)
    verifier.invalidate(updated.prefix)
    return updated
  }

  async function revokeIdle (input: RevokeIdleInput, context?: ChangeContext): Promise<{ revoked: R[] }> {
    const { unusedFor, dryRun } = checkIdle(input)
    const actor = actorOf(context, secret)
    // This instance's uses not yet written would otherwise look idle.
    await lastUsed.flush()
    const cutoff = new Date(Date.now() - unusedFor)
    const revoked = await sweepIdle(store, cutoff, dryRun, async (work) => await audit.change(async (store) => {
      const batch = await work(store)
      return { result: batch, events: batch.map((record) => notice('idle_revoked', record, { unusedSince: cutoff.toISOString() }, actor, REVOKED)) }
    }))
    if (!dryRun) for (const { prefix } of revoked) verifier.invalidate(prefix)
    return { revoked }
  }

  async function recordExpired (input: RecordExpiredInput = {}, context?: ChangeContext): Promise<{ expired: R[] }> {
    const { dryRun } = checkExpired(input)
    const actor = actorOf(context, secret)
    const expired = await sweepExpired(store, new Date(), dryRun, async (records, dryRun) => {
      const byId = new Map(records.map((record) => [record.id, record]))
      const fresh = await audit.addNew(records.map((record) => notice('expired', record, { expiresAt: (record.expiresAt as Date).toISOString() }, actor)), dryRun)
      return fresh.map(({ keyId }) => byId.get(keyId) as R)
    })
    return { expired }
  }

  async function rotate (id: string, input: RotateInput = {}, context?: ChangeContext): Promise<{ apiKey: R, key: string }> {
    checkOpen('rotate keys')
    checkId(id, secret)
    const gracePeriod = checkGrace(input)
    const actor = actorOf(context, secret)
    for (let attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
      const current = await store.secretOf(id)
      if (current === null) throw new errors.NOT_FOUND(id)
      if (current.revoked) throw new errors.NOT_ROTATABLE(id)
      const { prefix } = current
      if (!OWN_PREFIX.test(prefix)) throw new errors.IMPORTED_PREFIX(id)
      const { key } = generateKey(brand, prefix)
      const hashedKey = await hasher.hash(key)
      const until = new Date(Date.now() + gracePeriod)
      const rotated = await audit.change(async (store) => {
        const done = await store.rotate(id, current.hashedKey, hashedKey, until)
        // The secret's hashes are never told: the grace period is what changed for its holder.
        const details = { gracePeriod, previousKeyExpiresAt: until.toISOString() }
        return { result: done, events: done ? [{ type: 'rotated' as const, keyId: id, prefix, actor, changes: null, details }] : [] }
      })
      if (rotated) {
        verifier.invalidate(prefix)
        const apiKey = await store.get({ id })
        // Deleted between the two statements: the new key exists nowhere.
        if (apiKey === null) throw new errors.NOT_FOUND(id)
        return { apiKey, key }
      }
    }
    throw new errors.ROTATE_CONFLICT(id, ROTATE_ATTEMPTS)
  }

  function creditsOn (): CreditLedger {
    if (ledger === null) throw new errors.FEATURE_OFF('credits', CREDITS_OFF)
    return ledger
  }

  async function spend (apiKey: R, cost = 1): Promise<Payment> {
    const accounts = creditsOn()
    checkOpen('spend credits')
    checkCost(apiKey, cost)
    return await accounts.spend(apiKey as CreditRecord, cost)
  }

  const suspend = async (id: string, disabled: boolean, context: ChangeContext | undefined): Promise<R> => {
    if (!suspension) throw new errors.FEATURE_OFF('suspension', SUSPENSION_OFF)
    return await update(id, { disabled }, context)
  }

  async function reportLeak (id: string, leak: LeakReport, context?: ChangeContext): Promise<{ apiKey: R, revoked: boolean }> {
    checkId(id, secret)
    const actor = actorOf(context, secret)
    const { url, source, type, revoke } = checkLeak(leak)
    const outcome = await audit.change(async (store) => {
      const before = await store.get({ id })
      if (before === null) return { result: null, events: [] }
      const after = revoke && !before.revoked ? await store.update(id, { revoked: true }) : before
      // Deleted between the two statements: nothing left to report on.
      if (after === null) return { result: null, events: [] }
      return { result: { apiKey: after, revoked: after !== before }, events: [{ ...notice('leaked', after, { url, source, type }, actor), changes: changesOf(['revoked'], before, after) }] }
    })
    if (outcome === null) throw new errors.NOT_FOUND(id)
    if (outcome.revoked) verifier.invalidate(outcome.apiKey.prefix)
    return outcome
  }

  async function events (id: string, input: EventsInput = {}): Promise<ApiKeyEvent[]> {
    checkId(id, secret)
    const { take, before } = checkEvents(input)
    return await audit.list(id, take, before)
  }

  const manager: ApiKeyManager<R> = {
    keyPattern: pattern,
    statuses: statusesOf(suspension),
    features: Object.freeze({ ...features, usage: history?.period ?? null, audit: settings.audit !== null, importedKeys: settings.importedKeys }),
    create,
    importKey,
    verify,
    verifyCached,
    spend,
    spendCached: (apiKey, cost) => closed ? null : creditsOn().spendCached(apiKey as CreditRecord, cost, Date.now()),
    balance: (apiKey) => creditsOn().balance(apiKey as CreditRecord),
    get,
    list,
    update,
    revoke: async (id, context) => await update(id, { revoked: true }, context),
    revokeIdle,
    recordExpired,
    disable: async (id, context) => await suspend(id, true, context),
    enable: async (id, context) => await suspend(id, false, context),
    rotate,
    reportLeak,
    events,
    status: (apiKey) => {
      checkRecord(apiKey)
      return keyStatus(apiKey, Date.now())
    },
    usage,
    // Both, even when one fails: a failure of one says nothing of the other.
    flush: async () => { await settle([lastUsed.flush(), history?.counter.flush()]) },
    close: async () => {
      closed = true
      await feed?.close()
      verifier.close()
      try {
        await settle([lastUsed.close(), history?.counter.close(), ledger?.close()])
      } finally {
        await hasher.close()
      }
    }
  }
  return { manager, ready: feed?.ready ?? Promise.resolve() }
}

const REVOKED = { revoked: { from: false, to: true } }

// An event that says what happened rather than which columns a call wrote.
function notice<R extends ApiKeyRecord> (type: EventDraft['type'], record: R, details: Record<string, unknown>, actor: string | null = null, changes: EventDraft['changes'] = null): EventDraft {
  return { type, keyId: record.id, prefix: record.prefix, actor, changes, details }
}

function usageHistory (settings: ManagerSettings): { store: UsageStore, counter: UsageCounter, period: UsagePeriodName } | null {
  if (settings.usage === null) return null
  const { model, period, interval } = settings.usage
  const store = new UsageStore(model)
  return { store, period, counter: new UsageCounter(store, period, interval, settings.onBackgroundError) }
}

// Waits for all, then throws the first failure, if any.
async function settle (writes: Array<Promise<void> | undefined>): Promise<void> {
  const failed = (await Promise.allSettled(writes)).find((outcome) => outcome.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}

function startFeed (settings: ManagerSettings, handlers: ChangeHandlers): ChangeFeed | null {
  const feed = settings.changeFeed
  if (feed === null) return null
  if ('listen' in feed) return listenForChanges({ connect: feed.listen, channel: feed.channel }, handlers)
  return pollChangeLog({ model: feed.model, interval: feed.interval, hold: settings.cache.ttl }, handlers)
}
