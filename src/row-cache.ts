import { setImmediate as nextTurn } from 'node:timers/promises'
import { BatchedReads } from './batched-reads.js'
import { IpAllowlist } from './ip-allowlist.js'
import { Lru } from './lru.js'
import type { Store } from './store.js'
import type { ApiKeyRecord, StoredApiKey } from './types.js'

/** The stored hashes a check runs against (both null: the prefix has no row). */
export interface Hashes {
  hashedKey: string | null
  previousHashedKey: string | null
}

export const NO_HASHES: Hashes = Object.freeze({ hashedKey: null, previousHashedKey: null })

export function sameHashes (a: Hashes, b: Hashes): boolean {
  return a.hashedKey === b.hashedKey && a.previousHashedKey === b.previousHashedKey
}

/** A key's row as read from the store, split into what callers see and what only a check needs. */
export interface Row<R> extends Hashes {
  /** frozen, without its hashes: what request.apiKey and handlers see */
  record: R
  hashedKey: string
  /** the secret a rotation replaced (it works until record.previousKeyExpiresAt) */
  previousHashedKey: string | null
  /** the pepper's HMAC of the key, bound to hashedKey (src/pepper.ts); null when none is stored */
  keyHmac: string | null
  /** sequence number of the read that produced this copy (see RowCache.reads) */
  read: number
  /** when this copy must be read again from the database (ms epoch) */
  staleAt: number
  /** from when a check of this copy has it read again in the background (Infinity once asked) */
  renewAt: number
  /** the row's allowedIps, parsed once per read; null for anywhere (or a model without the column) */
  allowlist: IpAllowlist | null
  /** the answer for a check that passes on this copy, made once per read */
  accepted: { valid: true, apiKey: R }
}

/** Whether the secret the last rotation replaced still works at `now`. */
export function previousWorks (row: Row<ApiKeyRecord>, now: number): boolean {
  const until = row.record.previousKeyExpiresAt
  return row.previousHashedKey !== null && until !== null && now < until.getTime()
}

// Rows a background read asks for per query, yielding to the event loop in
// between: a query and the parsing of its rows stay one short turn (with
// better-sqlite3 the query itself runs on the event loop's thread).
const BATCH = 100

/**
 * Rows by prefix, each trusted for `ttl` ms. Concurrent misses for a prefix
 * share one read; every invalidation starts a new epoch, and a read that
 * began in an older epoch is neither joined nor kept, so nothing read before
 * a revoke returned is served after it. A row still in use in the last
 * quarter of its TTL is read again in the background (renewed), so a busy
 * key never waits for its own re-read; a row nobody asks for costs nothing.
 */
export class RowCache<R extends ApiKeyRecord> {
  readonly #store: Store<R>
  readonly #ttl: number
  readonly #rows: Lru<string, Row<R>>
  readonly #loading = new Map<string, { epoch: number, promise: Promise<Row<R> | null> }>()
  readonly #reads: BatchedReads<R>
  // Prefixes to renew, gathered for up to RENEW_WINDOW: one query for many.
  #renewing = new Set<string>()
  #renewTimer: NodeJS.Timeout | null = null
  #closed = false
  #epoch = 0
  #readCount = 0

  constructor (store: Store<R>, ttl: number, size: number) {
    this.#store = store
    this.#ttl = ttl
    this.#rows = new Lru(size)
    this.#reads = new BatchedReads(store)
  }

  /** Bumped by every invalidation. */
  get epoch (): number {
    return this.#epoch
  }

  /** The sequence number of the latest read: a row whose `read` is above a number taken earlier was read since. */
  get reads (): number {
    return this.#readCount
  }

  /** The row for `prefix`, from the cache while fresh; null when no key has it. */
  async get (prefix: string): Promise<Row<R> | null> {
    const cached = this.peek(prefix, Date.now())
    if (cached !== undefined) return cached
    let pending = this.#loading.get(prefix)
    if (pending === undefined || pending.epoch !== this.#epoch) {
      const read = { epoch: this.#epoch, promise: this.#load(prefix, this.#epoch) }
      read.promise.finally(() => { if (this.#loading.get(prefix) === read) this.#loading.delete(prefix) }).catch(() => {})
      this.#loading.set(prefix, read)
      pending = read
    }
    return await pending.promise
  }

  /** The cached copy while it is fresh; never waits for a read. */
  peek (prefix: string, now: number): Row<R> | undefined {
    const cached = this.#rows.get(prefix)
    if (cached === undefined || cached.staleAt <= now) return undefined
    if (cached.renewAt <= now) this.#renew(cached)
    return cached
  }

  /** Forgets the cached copy: the next get reads the row again. */
  drop (prefix: string): void {
    this.#rows.delete(prefix)
  }

  /** The row changed (revoke, update, rotate, re-hash): no copy read before now is used again. */
  invalidate (prefix: string): void {
    this.#epoch++
    this.#rows.delete(prefix)
  }

  /**
   * Reads every cached row again, in the background, BATCH a query: for when
   * changes may have been missed (the change feed was down). The copies serve
   * meanwhile, within their TTL. Runs started by calls close together may
   * overlap: each only puts back rows no invalidation overtook.
   */
  revalidate (): void {
    this.#reread([...this.#rows.entries()].map(([prefix]) => prefix)).catch(IGNORE)
  }

  // A renewal timer still set fires into #reread, which reads nothing once closed.
  close (): void {
    this.#closed = true
  }

  async #load (prefix: string, epoch: number): Promise<Row<R> | null> {
    const stored = await this.#reads.read(prefix)
    // A case-insensitive collation (MySQL's default) may match another case.
    if (stored === null || stored.prefix !== prefix) return null
    const row = this.#toRow(stored, Date.now())
    if (epoch === this.#epoch && this.#ttl > 0) this.#rows.set(prefix, row)
    return row
  }

  #toRow (stored: StoredApiKey<R>, readAt: number): Row<R> {
    const { hashedKey, previousHashedKey, keyHmac, ...record } = stored
    const frozen = Object.freeze(record) as unknown as R
    return {
      record: frozen,
      accepted: Object.freeze({ valid: true as const, apiKey: frozen }),
      allowlist: typeof record.allowedIps === 'string' ? new IpAllowlist(record.allowedIps) : null,
      hashedKey,
      previousHashedKey: previousHashedKey ?? null,
      keyHmac: keyHmac ?? null,
      read: ++this.#readCount,
      staleAt: readAt + this.#ttl,
      renewAt: readAt + this.#ttl * RENEW_AT
    }
  }

  #renew (row: Row<R>): void {
    row.renewAt = Infinity
    this.#renewing.add(row.record.prefix)
    if (this.#renewTimer !== null) return
    this.#renewTimer = setTimeout(() => {
      this.#renewTimer = null
      const due = [...this.#renewing]
      this.#renewing = new Set()
      this.#reread(due).catch(IGNORE)
    }, Math.min(RENEW_WINDOW, this.#ttl * (1 - RENEW_AT) / 2))
    this.#renewTimer.unref()
  }

  // Reads rows again, BATCH prefixes a query, and puts each back where it
  // was (a row evicted or dropped meanwhile is not brought back). A failed
  // query leaves the copies to expire; an invalidation during one drops its
  // prefixes, since what it read may predate the change.
  async #reread (prefixes: string[]): Promise<void> {
    for (let i = 0; i < prefixes.length && !this.#closed; i += BATCH) {
      const batch = prefixes.slice(i, i + BATCH)
      const epoch = this.#epoch
      const started = Date.now()
      const stored = await this.#store.findByPrefixes(batch)
      if (epoch !== this.#epoch) {
        for (const prefix of batch) this.#rows.delete(prefix)
      } else {
        const found = new Set<string>()
        for (const row of stored) {
          found.add(row.prefix)
          this.#rows.replace(row.prefix, this.#toRow(row, started))
        }
        for (const prefix of batch) if (!found.has(prefix)) this.#rows.delete(prefix)
      }
      await nextTurn()
    }
  }
}

// A background read that failed: its copies expire and are read on demand.
const IGNORE = (): void => {}

// A row in use is renewed from three quarters of its TTL on, the reads for
// renewal gathered for up to RENEW_WINDOW ms (and never past half the rest).
const RENEW_AT = 0.75
const RENEW_WINDOW = 1_000
