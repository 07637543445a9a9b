import { hash, type KeyObject } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Hasher } from './hasher.js'
import { keyLength, parseKey, parseLooseKey, PREFIX_LENGTH } from './key-format.js'
import type { CacheSettings, ThrottleSettings } from './options.js'
import { keyHmac, matchingPepper } from './pepper.js'
import { NO_HASHES, previousWorks, RowCache, sameHashes, type Hashes, type Row } from './row-cache.js'
import { SecretMemo } from './secret-memo.js'
import { keyStatus } from './status.js'
import type { Store } from './store.js'
import { Throttle } from './throttle.js'
import type { ApiKeyRecord, ClientAddress, UsableCheck, VerifyFailure, VerifyResult } from './types.js'

export interface VerifierSettings<R extends ApiKeyRecord> {
  brand: string
  pattern: RegExp
  cache: CacheSettings
  throttle: ThrottleSettings
  usable: UsableCheck<R> | null
  /** the pepper's HMAC keys, current first (src/pepper.ts); null without a pepper */
  pepper: readonly KeyObject[] | null
  /** the credits feature is on; without it a key with credits is refused: nothing here could count them */
  credits: boolean
  /** keys imported from other systems: their hashes and, for their rows only, their format (docs/migrating.md) */
  importedKeys: boolean
  /** errors with no caller to go to (a failed re-hash or keyHmac write) */
  onError: (err: unknown) => void
}

type Refusal = VerifyResult<never> & { valid: false }

// One frozen answer per reason: handed to every caller, never changed.
const REFUSED = Object.freeze(Object.fromEntries(
  (['malformed', 'unknown', 'wrong_secret', 'revoked', 'disabled', 'expired', 'unusable', 'ip_not_allowed', 'usage_exceeded', 'throttled'] as const)
    .map((reason) => [reason, Object.freeze({ valid: false, reason })])
)) as Readonly<Record<VerifyFailure, Refusal>>

export const MALFORMED = REFUSED.malformed

// The one-shot hash (~0.3 µs for a key here): createHash makes an object per call.
const digestOf = (key: string): string => hash('sha256', key, 'base64')

/**
 * The check behind every protected request, composed of a row cache (a
 * query at most once per TTL), a memo of what presented keys matched or were
 * refused against (no scrypt for a key seen before), a per-prefix budget for
 * the rest, and the hasher's admitted line. During a rotation's grace period
 * the replaced secret matches too, until previousKeyExpiresAt.
 */
export class Verifier<R extends ApiKeyRecord> {
  readonly #store: Store<R>
  readonly #hasher: Hasher
  readonly #settings: VerifierSettings<R>
  readonly #length: number
  readonly #rows: RowCache<R>
  readonly #memo: SecretMemo
  readonly #throttle: Throttle
  // Hashes in flight by digest, with the hashes they run against (see #check).
  readonly #hashing = new Map<string, Hashes & { promise: Promise<boolean> }>()

  constructor (store: Store<R>, hasher: Hasher, settings: VerifierSettings<R>) {
    this.#store = store
    this.#hasher = hasher
    this.#settings = settings
    this.#length = keyLength(settings.brand)
    const { ttl, size } = settings.cache
    this.#rows = new RowCache(store, ttl, size)
    this.#memo = new SecretMemo(size)
    this.#throttle = new Throttle(settings.throttle, size)
  }

  /** The row changed: no copy read before now answers a check that starts after. */
  invalidate (prefix: string): void {
    this.#rows.invalidate(prefix)
  }

  /** Changes may have been missed: every cached row is read again (in the background). */
  resync (): void {
    this.#rows.revalidate()
  }

  close (): void {
    this.#rows.close()
  }

  /**
   * The answer from memory alone, without a query or a hash: for a key that
   * matched before, whose row is fresh in the cache. Null when answering
   * needs the database or scrypt (verify does). No parse either: a digest
   * that matched is the digest of a string that parsed then.
   */
  fromMemory (key: string, now: number, ip: ClientAddress): VerifyResult<R> | null {
    const { brand } = this.#settings
    if (key.length !== this.#length) return null
    const row = this.#rows.peek(key.slice(brand.length, brand.length + PREFIX_LENGTH), now)
    if (row === undefined) return null
    if (!this.#memo.matches(digestOf(key), row, now)) return null
    return this.#decide(row, now, ip)
  }

  /** `ip`: where the request comes from, for a key with an allowlist (none given: refused). */
  async verify (key: unknown, ip: ClientAddress): Promise<VerifyResult<R>> {
    if (typeof key !== 'string') return MALFORMED
    const { brand, pattern, importedKeys } = this.#settings
    let parsed = parseKey(key, brand, pattern)
    // An imported key's format, for a row imported with its prefix. One of
    // ours with a wrong checksum stays malformed: our keys never go loose.
    const loose = parsed === null && importedKeys && !pattern.test(key)
    if (loose) parsed = parseLooseKey(key)
    if (parsed === null) return MALFORMED
    const { prefix } = parsed
    const digest = digestOf(parsed.key)
    let checked: Row<R> | null = null
    for (;;) {
      const epoch = this.#rows.epoch
      const reads = this.#rows.reads
      const found = await this.#rows.get(prefix)
      // A loose key for a row of our own is answered as one of no row: the
      // same refusal and timing, so it tells nothing of which prefixes exist.
      const row = loose && found?.record.importedFrom == null ? null : found
      if (row === null) {
        const result = this.#memo.refusedBefore(digest, NO_HASHES) ? REFUSED.wrong_secret : await this.#check(prefix, parsed.key, digest, null)
        if (result !== REFUSED.wrong_secret) return result as Refusal
        this.#memo.refuse(digest, NO_HASHES)
        return REFUSED.unknown
      }
      if (!this.#memo.matches(digest, row, Date.now())) {
        // Checked against this very row already: the retry below found nothing new.
        if (checked !== null && sameHashes(checked, row)) return this.#refuse(digest, row)
        const result = this.#memo.refusedBefore(digest, row) ? REFUSED.wrong_secret : await this.#check(prefix, parsed.key, digest, row)
        if (result === REFUSED.wrong_secret && checked === null && row.read <= reads) {
          // A cached copy may predate a rotation on another instance: read
          // the row once more before calling a new secret wrong.
          checked = row
          this.#rows.drop(prefix)
          continue
        }
        if (result === REFUSED.wrong_secret) return this.#refuse(digest, row)
        if (result !== null) return result
      }
      // An invalidation (revoke, update) landed while this check was waiting:
      // read the key again rather than pass on the copy from before it.
      if (epoch !== this.#rows.epoch) continue
      return this.#decide(row, Date.now(), ip)
    }
  }

  /** For a key whose secret matched: what its row says now. */
  #decide (row: Row<R>, now: number, ip: ClientAddress): VerifyResult<R> {
    const status = keyStatus(row.record, now)
    if (status !== 'active') return REFUSED[status]
    if (this.#settings.usable !== null && !this.#settings.usable(row.record)) return REFUSED.unusable
    // Enforced whenever the row has a list, with the option on or not: fail closed.
    if (row.allowlist !== null && !row.allowlist.allows(typeof ip === 'function' ? ip() : ip)) return REFUSED.ip_not_allowed
    // Fail closed, as for disabled: an instance built without the credits
    // option cannot count a limited key's calls, so it lets none through.
    if (!this.#settings.credits && typeof row.record.credits === 'number') return REFUSED.usage_exceeded
    return row.accepted
  }

  #refuse (digest: string, row: Row<R>): VerifyResult<R> {
    this.#memo.refuse(digest, row)
    return REFUSED.wrong_secret
  }

  /**
   * The row's HMAC under the pepper, if it vouches for the key; else the slow
   * path: scrypt against the row's hashes, or, for a prefix with no row
   * (null), the hasher's stand-in, which waits in the same line as long as a
   * hash takes. Null once the secret matched; a refusal otherwise.
   */
  async #check (prefix: string, key: string, digest: string, row: Row<R> | null): Promise<Refusal | null> {
    if (row !== null && this.#vouched(key, digest, row)) return null
    const against = row ?? NO_HASHES
    // Checks of the same presented key share one hash and count once, but
    // only a hash computed against the very hashes this check read: one
    // started before a rotation must not answer for the row after it.
    const joined = this.#hashing.get(digest)
    if (joined !== undefined && sameHashes(joined, against)) return (await joined.promise) ? null : REFUSED.wrong_secret

    // Synchronous up to the hash being registered: a concurrent check of the
    // same key must find it in #hashing, not take a token of its own.
    const attempt = this.#throttle.acquire(prefix, against.hashedKey, Date.now())
    if (attempt === null) return await this.#throttled()
    const promise = row === null ? this.#hasher.imitate(key).then(() => false) : this.#hash(key, digest, row)
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
    return ok ? null : REFUSED.wrong_secret
  }

  // A tarpit: the refusal costs no CPU, and a client flooding on N
  // connections gets at most N attempts per delay, not a core's worth.
  async #throttled (): Promise<Refusal> {
    const { delay } = this.#settings.throttle
    if (delay > 0) await sleep(delay)
    return REFUSED.throttled
  }

  /** Whether the presented key matches one of the row's working secrets. */
  async #hash (key: string, digest: string, row: Row<R>): Promise<boolean> {
    // An imported row's hash may be another system's until its first use here.
    const legacy = this.#settings.importedKeys && row.record.importedFrom != null
    const outcome = await this.#hasher.verify(key, row.hashedKey, legacy)
    if (outcome.ok) {
      this.#memo.match(digest, row.hashedKey)
      if (outcome.rehash) this.#upgrade(row, key)
      else this.#seal(row, key)
      return true
    }
    if (!previousWorks(row, Date.now())) return false
    // The secret a rotation replaced, within its grace period. The end is
    // decided when its hash is done, not when it started: a check begun just
    // before the end is not accepted after it. Never re-hashed: it has only
    // until previousKeyExpiresAt to live, nor given an HMAC.
    const previous = await this.#hasher.verify(key, row.previousHashedKey as string, legacy)
    if (!previous.ok || !previousWorks(row, Date.now())) return false
    this.#memo.match(digest, row.previousHashedKey as string)
    return true
  }

  // A hash made with older parameters is replaced, off the request path, by
  // one made with the current ones: a compare-and-set on the hash that was
  // verified, so a concurrent rotation wins.
  #upgrade (row: Row<R>, key: string): void {
    const { pepper } = this.#settings
    this.#hasher.hash(key)
      .then(async (to) => await this.#store.replaceHash(row.record.id, row.hashedKey, to, pepper === null ? undefined : keyHmac(pepper[0], to, key)))
      .then(() => this.#rows.invalidate(row.record.prefix), this.#settings.onError)
  }

  // With a pepper: a key whose HMAC, made for this very hash, is the row's
  // needs neither scrypt nor a throttle token (the HMAC was stored by an
  // instance whose scrypt matched it). A mismatch leaves it to scrypt. An
  // outdated hash is still upgraded (scrypt stays the hash of record), and an
  // HMAC made under a previous pepper is rewritten under the current one.
  #vouched (key: string, digest: string, row: Row<R>): boolean {
    const { pepper } = this.#settings
    if (pepper === null || row.keyHmac === null) return false
    const made = matchingPepper(pepper, row.hashedKey, key, row.keyHmac)
    if (made < 0) return false
    this.#memo.match(digest, row.hashedKey)
    if (this.#hasher.outdated(row.hashedKey)) this.#upgrade(row, key)
    else if (made > 0) this.#seal(row, key)
    return true
  }

  // Stores the current pepper's HMAC of a key scrypt matched against the row's
  // current hash, off the request path: a compare-and-set on that hash, so a
  // rotation or re-hash meanwhile wins. Not invalidated: nothing a check
  // decides on changed, and this instance remembers the match already.
  #seal (row: Row<R>, key: string): void {
    const { pepper } = this.#settings
    if (pepper === null) return
    this.#store.storeHmac(row.record.id, row.hashedKey, keyHmac(pepper[0], row.hashedKey, key)).catch(this.#settings.onError)
  }
}
