import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Hasher } from './hasher.js'
import { parseKey } from './key-format.js'
import { Lru } from './lru.js'
import type { CacheSettings } from './options.js'
import { keyStatus } from './status.js'
import type { ApiKeyRecord, Store, StoredApiKey } from './store.js'

export type VerifyFailure = 'malformed' | 'unknown' | 'wrong_secret' | 'revoked' | 'expired' | 'unusable' | 'throttled'

/** The app's own rule on top of revoked/expired (the `usable` option). */
export type UsableCheck<R extends ApiKeyRecord = ApiKeyRecord> = (apiKey: R) => boolean

export interface VerifierSettings<R extends ApiKeyRecord> {
  brand: string
  pattern: RegExp
  cache: CacheSettings
  usable: UsableCheck<R> | null
  /** upgrades a stored hash to the current parameters, off the request path */
  onRehash: (record: R, hashedKey: string, key: string) => void
}

export type VerifyResult<R extends ApiKeyRecord = ApiKeyRecord> =
  | { valid: true, apiKey: R }
  | { valid: false, reason: VerifyFailure }

interface Loaded<R> {
  /** frozen, without its hash: what request.apiKey and handlers see */
  record: R
  hashedKey: string
  /** the secret a rotation replaced (it works until record.previousKeyExpiresAt) */
  previousHashedKey: string | null
  /** ordinal of the read that produced this copy (see verify) */
  read: number
  /** when this copy must be read again from the database (ms epoch) */
  staleAt: number
}

interface Failures {
  count: number
  since: number
}

export const MALFORMED = Object.freeze({ valid: false, reason: 'malformed' }) as { valid: false, reason: 'malformed' }
const UNKNOWN = Object.freeze({ valid: false, reason: 'unknown' }) as { valid: false, reason: 'unknown' }
const WRONG = Object.freeze({ valid: false, reason: 'wrong_secret' }) as { valid: false, reason: 'wrong_secret' }
const THROTTLED = Object.freeze({ valid: false, reason: 'throttled' }) as { valid: false, reason: 'throttled' }
const REVOKED = Object.freeze({ valid: false, reason: 'revoked' }) as { valid: false, reason: 'revoked' }
const EXPIRED = Object.freeze({ valid: false, reason: 'expired' }) as { valid: false, reason: 'expired' }
const UNUSABLE = Object.freeze({ valid: false, reason: 'unusable' }) as { valid: false, reason: 'unusable' }

const REFRESH_BATCH = 500
// How long recent wrong secrets took to refuse, from the start of their check:
// the pool an unknown prefix's answer time is drawn from.
const TIMING_SAMPLES = 64
// Below this many samples, an unknown prefix pays for a real hash (and adds a sample).
const MIN_SAMPLES = 8

const digestOf = (key: string): string => createHash('sha256').update(key).digest('base64')

/**
 * The check behind every protected request. A key seen before costs no scrypt
 * and, within the record TTL, no query:
 * - records: prefix -> the stored row, read at most once per TTL;
 * - verified: digest of a presented key -> the hash it matched. A hit counts
 *   only while that hash is still the stored one, so a rotation or re-hash
 *   forces a real check, and a wrong secret (another digest) never hits.
 * Both are bounded LRUs; concurrent misses share one query and one hash.
 * During a rotation's grace period the replaced secret matches too, until
 * previousKeyExpiresAt, checked on every request.
 */
export class Verifier<R extends ApiKeyRecord> {
  readonly #store: Store<R>
  readonly #hasher: Hasher
  readonly #brand: string
  readonly #pattern: RegExp
  readonly #usable: UsableCheck<R> | null
  readonly #ttl: number
  readonly #maxFailures: number
  readonly #failureWindow: number
  readonly #throttleDelay: number
  readonly #records: Lru<string, Loaded<R>>
  readonly #verified: Lru<string, string>
  readonly #failures: Lru<string, Failures>
  // Reads in flight, with the epoch they started in (see #record).
  readonly #loading = new Map<string, { epoch: number, promise: Promise<Loaded<R> | null> }>()
  readonly #hashing = new Map<string, Promise<boolean>>()
  // Bumped by every invalidation: a check that read a record before a
  // revocation returned cannot pass on that copy (see verify).
  #epoch = 0
  #reads = 0
  readonly #refusals: number[] = []
  #refusalsNext = 0
  #refresher: NodeJS.Timeout | null = null
  readonly #onRehash: VerifierSettings<R>['onRehash']

  constructor (store: Store<R>, hasher: Hasher, { brand, pattern, cache, usable, onRehash }: VerifierSettings<R>) {
    this.#onRehash = onRehash
    this.#store = store
    this.#hasher = hasher
    this.#brand = brand
    this.#pattern = pattern
    this.#usable = usable
    this.#ttl = cache.ttl
    this.#maxFailures = cache.maxFailures
    this.#failureWindow = cache.failureWindow
    this.#throttleDelay = cache.throttleDelay
    this.#records = new Lru(cache.size)
    this.#verified = new Lru(cache.size)
    this.#failures = new Lru(cache.size)
  }

  invalidate (prefix: string): void {
    this.#epoch++
    this.#records.delete(prefix)
  }

  close (): void {
    if (this.#refresher !== null) clearInterval(this.#refresher)
    this.#refresher = null
  }

  // Rows are re-read before they go stale, REFRESH_BATCH prefixes a query,
  // every half TTL. Read one by one as they expired, 10,000 busy keys at a
  // 5 s TTL cost 2,000 queries a second: a whole core spent on Prisma.
  #startRefresher (): void {
    if (this.#refresher !== null) return
    this.#refresher = setInterval(() => { this.refresh().catch(() => {}) }, Math.max(50, this.#ttl / 2))
    this.#refresher.unref()
  }

  /** Re-reads the rows that would go stale before the next round. */
  async refresh (): Promise<void> {
    const started = Date.now()
    const epoch = this.#epoch
    const due: string[] = []
    for (const [prefix, loaded] of this.#records.entries()) {
      // Due if stale before the round after next: a round that runs late (a
      // busy event loop, a slow query) still lands before the row goes stale.
      if (loaded.staleAt - started <= this.#ttl * 0.75) due.push(prefix)
    }
    for (let i = 0; i < due.length; i += REFRESH_BATCH) {
      const batch = due.slice(i, i + REFRESH_BATCH)
      const rows = await this.#store.findByPrefixes(batch)
      // An invalidation during the query: leave the entries to expire and reload.
      if (epoch !== this.#epoch) return
      const found = new Set<string>()
      for (const row of rows) {
        found.add(row.prefix)
        this.#records.replace(row.prefix, this.#toLoaded(row, started))
      }
      for (const prefix of batch) if (!found.has(prefix)) this.#records.delete(prefix)
    }
  }

  async verify (key: unknown): Promise<VerifyResult<R>> {
    const parsed = typeof key === 'string' ? parseKey(key, this.#brand, this.#pattern) : null
    if (parsed === null) return MALFORMED
    const started = performance.now()
    const digest = digestOf(parsed.key)
    let checked: Loaded<R> | null = null
    for (;;) {
      const epoch = this.#epoch
      const reads = this.#reads
      const loaded = await this.#record(parsed.prefix)
      if (loaded === null) return await this.#unknown(parsed.prefix, parsed.key, started)
      if (!this.#known(digest, loaded, Date.now())) {
        // Checked against this very row already: the retry below found nothing new.
        if (checked !== null && sameHashes(checked, loaded)) return this.#refused(started)
        const result = await this.#check(parsed.prefix, parsed.key, digest, loaded)
        if (result === WRONG && checked === null && loaded.read <= reads) {
          // A cached copy may predate a rotation on another instance: read
          // the row once more before calling a new secret wrong.
          checked = loaded
          this.#records.delete(parsed.prefix)
          continue
        }
        if (result === WRONG) return this.#refused(started)
        if (result !== null) return result
      }
      // An invalidation (revoke, update) landed while this check was waiting:
      // read the key again rather than pass on the copy from before it.
      if (epoch !== this.#epoch) continue
      const status = keyStatus(loaded.record, Date.now())
      if (status !== 'active') return status === 'revoked' ? REVOKED : EXPIRED
      if (this.#usable !== null && !this.#usable(loaded.record)) return UNUSABLE
      return { valid: true, apiKey: loaded.record }
    }
  }

  /** Whether this presented key matched one of the row's current secrets before. */
  #known (digest: string, loaded: Loaded<R>, now: number): boolean {
    const matched = this.#verified.get(digest)
    if (matched === undefined) return false
    return matched === loaded.hashedKey || (matched === loaded.previousHashedKey && previousWorks(loaded, now))
  }

  async #record (prefix: string): Promise<Loaded<R> | null> {
    const cached = this.#records.get(prefix)
    if (cached !== undefined && cached.staleAt > Date.now()) return cached
    // A read that started before the latest invalidation may return the row
    // as it was before a revoke that has since returned: start a new one.
    let pending = this.#loading.get(prefix)
    if (pending === undefined || pending.epoch !== this.#epoch) {
      const read = { epoch: this.#epoch, promise: this.#load(prefix, this.#epoch) }
      read.promise.finally(() => { if (this.#loading.get(prefix) === read) this.#loading.delete(prefix) }).catch(() => {})
      this.#loading.set(prefix, read)
      pending = read
    }
    return await pending.promise
  }

  async #load (prefix: string, epoch: number): Promise<Loaded<R> | null> {
    const stored = await this.#store.findByPrefix(prefix)
    // A case-insensitive collation (MySQL's default) may match another case.
    if (stored === null || stored.prefix !== prefix) return null
    const loaded = this.#toLoaded(stored, Date.now())
    if (epoch === this.#epoch && this.#ttl > 0) {
      this.#records.set(prefix, loaded)
      this.#startRefresher()
    }
    return loaded
  }

  #toLoaded (stored: StoredApiKey<R>, readAt: number): Loaded<R> {
    const { hashedKey, previousHashedKey, ...record } = stored
    return {
      record: Object.freeze(record) as unknown as R,
      hashedKey,
      previousHashedKey: previousHashedKey ?? null,
      read: ++this.#reads,
      staleAt: readAt + this.#ttl
    }
  }

  /** The slow path: scrypt. Returns a failure, or null once the secret matched. */
  async #check (prefix: string, key: string, digest: string, loaded: Loaded<R>): Promise<VerifyResult<R> | null> {
    // Checks of the same presented key share one hash and count once.
    const joined = this.#hashing.get(digest)
    if (joined !== undefined) return (await joined) ? null : WRONG

    // Synchronous up to the hash being registered: a concurrent check of the
    // same key must find it in #hashing, not count an attempt of its own.
    const attempts = this.#attempt(prefix)
    if (attempts === null) return await this.#throttled()
    const pending = this.#hash(key, digest, loaded).finally(() => this.#hashing.delete(digest))
    this.#hashing.set(digest, pending)
    let ok: boolean
    try {
      ok = await pending
    } catch (err) {
      // Not the caller's failure (queue full, store down): it does not count.
      attempts.count--
      throw err
    }
    if (ok) attempts.count--
    return ok ? null : WRONG
  }

  /**
   * Counts an unverified attempt on a prefix, or returns null once the prefix
   * is over its limit. Hashes in flight count with failures: a burst of wrong
   * secrets for one prefix cannot queue more hashes than the limit.
   */
  #attempt (prefix: string): Failures | null {
    const now = Date.now()
    let attempts = this.#failures.get(prefix)
    if (attempts === undefined || now - attempts.since >= this.#failureWindow) {
      attempts = { count: 0, since: now }
      this.#failures.set(prefix, attempts)
    }
    if (attempts.count >= this.#maxFailures) return null
    attempts.count++
    return attempts
  }

  // A tarpit: the refusal costs no CPU, and a client flooding on N
  // connections gets at most N attempts per delay, not a core's worth.
  async #throttled (): Promise<VerifyResult<R>> {
    if (this.#throttleDelay > 0) await sleep(this.#throttleDelay)
    return THROTTLED
  }

  /**
   * An unknown prefix answers like a known one with a wrong secret: counted
   * and throttled the same, and refused as long after the start of its check
   * as a recent wrong secret was (drawn from the last TIMING_SAMPLES). The
   * time is waited, not spent on a hash, so made-up prefixes cannot make the
   * server burn scrypt on demand (a wrong secret for a real prefix is bounded
   * by that prefix's throttle; random prefixes would have none).
   */
  async #unknown (prefix: string, key: string, started: number): Promise<VerifyResult<R>> {
    if (this.#attempt(prefix) === null) return await this.#throttled()
    if (this.#refusals.length < MIN_SAMPLES) {
      // Too few samples yet: hash the presented key for real (a fresh salt,
      // the current parameters: the cost of a check).
      await this.#hasher.hash(key)
      this.#refused(started)
    } else {
      const target = this.#refusals[Math.floor(Math.random() * this.#refusals.length)]
      await sleep(Math.max(0, target - (performance.now() - started)))
    }
    return UNKNOWN
  }

  /** Keeps how long a refusal took since the start of its check; returns WRONG. */
  #refused (started: number): VerifyResult<R> {
    this.#refusals[this.#refusalsNext] = performance.now() - started
    this.#refusalsNext = (this.#refusalsNext + 1) % TIMING_SAMPLES
    return WRONG
  }

  async #hash (key: string, digest: string, loaded: Loaded<R>): Promise<boolean> {
    const outcome = await this.#hasher.verify(key, loaded.hashedKey)
    if (outcome.ok) {
      this.#verified.set(digest, loaded.hashedKey)
      if (outcome.rehash) this.#onRehash(loaded.record, loaded.hashedKey, key)
      return true
    }
    if (!previousWorks(loaded, Date.now())) return false
    // The secret a rotation replaced, within its grace period. It is never
    // re-hashed: it has only until previousKeyExpiresAt to live.
    const previous = await this.#hasher.verify(key, loaded.previousHashedKey as string)
    if (previous.ok) this.#verified.set(digest, loaded.previousHashedKey as string)
    return previous.ok
  }
}

/** Whether the secret the last rotation replaced still works at `now`. */
function previousWorks (loaded: Loaded<ApiKeyRecord>, now: number): boolean {
  const until = loaded.record.previousKeyExpiresAt
  return loaded.previousHashedKey !== null && until !== null && now < until.getTime()
}

function sameHashes (a: Loaded<unknown>, b: Loaded<unknown>): boolean {
  return a.hashedKey === b.hashedKey && a.previousHashedKey === b.previousHashedKey
}
