import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Hasher } from './hasher.js'
import { parseKey } from './key-format.js'
import { Lru } from './lru.js'
import type { CacheSettings } from './options.js'
import { keyStatus } from './status.js'
import { Throttle } from './throttle.js'
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

/** The stored hashes a check ran against (both null: the prefix has no row). */
interface Hashes {
  hashedKey: string | null
  previousHashedKey: string | null
}

const NO_HASHES: Hashes = Object.freeze({ hashedKey: null, previousHashedKey: null })

export const MALFORMED = Object.freeze({ valid: false, reason: 'malformed' }) as { valid: false, reason: 'malformed' }
const UNKNOWN = Object.freeze({ valid: false, reason: 'unknown' }) as { valid: false, reason: 'unknown' }
const WRONG = Object.freeze({ valid: false, reason: 'wrong_secret' }) as { valid: false, reason: 'wrong_secret' }
const THROTTLED = Object.freeze({ valid: false, reason: 'throttled' }) as { valid: false, reason: 'throttled' }
const REVOKED = Object.freeze({ valid: false, reason: 'revoked' }) as { valid: false, reason: 'revoked' }
const EXPIRED = Object.freeze({ valid: false, reason: 'expired' }) as { valid: false, reason: 'expired' }
const UNUSABLE = Object.freeze({ valid: false, reason: 'unusable' }) as { valid: false, reason: 'unusable' }

const REFRESH_BATCH = 500

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
  readonly #throttleDelay: number
  readonly #records: Lru<string, Loaded<R>>
  readonly #verified: Lru<string, string>
  // digest of a presented key -> the hashes it was refused against (see #refusedBefore)
  readonly #refusals: Lru<string, Hashes>
  readonly #throttle: Throttle
  // Reads in flight, with the epoch they started in (see #record).
  readonly #loading = new Map<string, { epoch: number, promise: Promise<Loaded<R> | null> }>()
  readonly #hashing = new Map<string, Hashes & { promise: Promise<boolean> }>()
  // Bumped by every invalidation: a check that read a record before a
  // revocation returned cannot pass on that copy (see verify).
  #epoch = 0
  #reads = 0
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
    this.#throttleDelay = cache.throttleDelay
    this.#records = new Lru(cache.size)
    this.#verified = new Lru(cache.size)
    this.#refusals = new Lru(cache.size)
    this.#throttle = new Throttle(cache.maxFailures, cache.failureWindow, cache.size)
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
    const digest = digestOf(parsed.key)
    let checked: Loaded<R> | null = null
    for (;;) {
      const epoch = this.#epoch
      const reads = this.#reads
      const loaded = await this.#record(parsed.prefix)
      if (loaded === null) {
        const result = this.#refusedBefore(digest, null) ? WRONG : await this.#check(parsed.prefix, parsed.key, digest, null)
        if (result !== WRONG) return result as VerifyResult<R>
        this.#refusals.set(digest, NO_HASHES)
        return UNKNOWN
      }
      if (!this.#known(digest, loaded, Date.now())) {
        // Checked against this very row already: the retry below found nothing new.
        if (checked !== null && sameHashes(checked, loaded)) return this.#refuse(digest, loaded)
        const result = this.#refusedBefore(digest, loaded) ? WRONG : await this.#check(parsed.prefix, parsed.key, digest, loaded)
        if (result === WRONG && checked === null && loaded.read <= reads) {
          // A cached copy may predate a rotation on another instance: read
          // the row once more before calling a new secret wrong.
          checked = loaded
          this.#records.delete(parsed.prefix)
          continue
        }
        if (result === WRONG) return this.#refuse(digest, loaded)
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

  /**
   * Whether this presented key was refused against these very hashes (or, for
   * null, as an unknown prefix) before: the answer cannot have changed, so it
   * is given again without a hash and without spending the prefix's budget. A
   * client replaying a leaked or rotated-out key costs nothing and holds
   * nobody back.
   */
  #refusedBefore (digest: string, loaded: Hashes | null): boolean {
    const refused = this.#refusals.get(digest)
    return refused !== undefined && sameHashes(refused, loaded ?? NO_HASHES)
  }

  #refuse (digest: string, loaded: Loaded<R>): VerifyResult<R> {
    this.#refusals.set(digest, { hashedKey: loaded.hashedKey, previousHashedKey: loaded.previousHashedKey })
    return WRONG
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

  /**
   * The slow path: scrypt against the row's hashes, or, for a prefix with no
   * row (null), a stand-in that waits in the same line as long as a hash
   * takes. Returns a failure, or null once the secret matched.
   */
  async #check (prefix: string, key: string, digest: string, loaded: Loaded<R> | null): Promise<VerifyResult<R> | null> {
    const against = loaded ?? NO_HASHES
    // Checks of the same presented key share one hash and count once, but
    // only a hash computed against the very hashes this check read: one
    // started before a rotation must not answer for the row after it.
    const joined = this.#hashing.get(digest)
    if (joined !== undefined && sameHashes(joined, against)) return (await joined.promise) ? null : WRONG

    // Synchronous up to the hash being registered: a concurrent check of the
    // same key must find it in #hashing, not take a token of its own.
    const attempt = this.#throttle.acquire(prefix, against.hashedKey, Date.now())
    if (attempt === null) return await this.#throttled()
    const promise = loaded === null ? this.#hasher.imitate(key).then(() => false) : this.#hash(key, digest, loaded)
    const pending = { hashedKey: against.hashedKey, previousHashedKey: against.previousHashedKey, promise }
    this.#hashing.set(digest, pending)
    promise.finally(() => { if (this.#hashing.get(digest) === pending) this.#hashing.delete(digest) }).catch(() => {})
    let ok: boolean
    try {
      ok = await promise
    } catch (err) {
      // Not the caller's failure (queue full, store down): it does not count.
      attempt.settle(false)
      throw err
    }
    attempt.settle(!ok)
    return ok ? null : WRONG
  }

  // A tarpit: the refusal costs no CPU, and a client flooding on N
  // connections gets at most N attempts per delay, not a core's worth.
  async #throttled (): Promise<VerifyResult<R>> {
    if (this.#throttleDelay > 0) await sleep(this.#throttleDelay)
    return THROTTLED
  }

  async #hash (key: string, digest: string, loaded: Loaded<R>): Promise<boolean> {
    const outcome = await this.#hasher.verify(key, loaded.hashedKey)
    if (outcome.ok) {
      this.#verified.set(digest, loaded.hashedKey)
      if (outcome.rehash) this.#onRehash(loaded.record, loaded.hashedKey, key)
      return true
    }
    if (!previousWorks(loaded, Date.now())) return false
    // The secret a rotation replaced, within its grace period. The end is
    // decided when its hash is done, not when it started: a check begun just
    // before the end is not accepted after it. Never re-hashed: it has only
    // until previousKeyExpiresAt to live.
    const previous = await this.#hasher.verify(key, loaded.previousHashedKey as string)
    if (!previous.ok || !previousWorks(loaded, Date.now())) return false
    this.#verified.set(digest, loaded.previousHashedKey as string)
    return true
  }
}

/** Whether the secret the last rotation replaced still works at `now`. */
function previousWorks (loaded: Loaded<ApiKeyRecord>, now: number): boolean {
  const until = loaded.record.previousKeyExpiresAt
  return loaded.previousHashedKey !== null && until !== null && now < until.getTime()
}

function sameHashes (a: Hashes, b: Hashes): boolean {
  return a.hashedKey === b.hashedKey && a.previousHashedKey === b.previousHashedKey
}
