import { setImmediate as nextTurn } from 'node:timers/promises'
import { BatchedReads } from './batched-reads.js'
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
  /** the answer for a check that passes on this copy, made once per read */
  accepted: { valid: true, apiKey: R }
}

/** Whether the secret the last rotation replaced still works at `now`. */
export function previousWorks (row: Row<ApiKeyRecord>, now: number): boolean {
  const until = row.record.previousKeyExpiresAt
  return row.previousHashedKey !== null && until !== null && now < until.getTime()
}

// Rows a background refresh reads per query, yielding to the event loop in
// between: a query and the parsing of its rows stay one short turn (with
// better-sqlite3 the query itself runs on the event loop's thread).
const REFRESH_BATCH = 100

/**
 * Rows by prefix, each trusted for `ttl` ms. Concurrent misses for a prefix
 * share one read; every invalidation starts a new epoch, and a read that
 * began in an older epoch is neither joined nor kept, so nothing read before
 * a revoke returned is served after it. Busy rows are re-read in batches in
 * the background before they go stale.
 */
export class RowCache<R extends ApiKeyRecord> {
  readonly #store: Store<R>
  readonly #ttl: number
  readonly #rows: Lru<string, Row<R>>
  readonly #loading = new Map<string, { epoch: number, promise: Promise<Row<R> | null> }>()
  readonly #reads: BatchedReads<R>
  #epoch = 0
  #readCount = 0
  #refresher: NodeJS.Timeout | null = null

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

  /** The cached copy while it is fresh; never reads. */
  peek (prefix: string, now: number): Row<R> | undefined {
    const cached = this.#rows.get(prefix)
    return cached !== undefined && cached.staleAt > now ? cached : undefined
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

  close (): void {
    if (this.#refresher !== null) clearInterval(this.#refresher)
    this.#refresher = null
  }

  async #load (prefix: string, epoch: number): Promise<Row<R> | null> {
    const stored = await this.#reads.read(prefix)
    // A case-insensitive collation (MySQL's default) may match another case.
    if (stored === null || stored.prefix !== prefix) return null
    const row = this.#toRow(stored, Date.now())
    if (epoch === this.#epoch && this.#ttl > 0) {
      this.#rows.set(prefix, row)
      this.#startRefresher()
    }
    return row
  }

  #toRow (stored: StoredApiKey<R>, readAt: number): Row<R> {
    const { hashedKey, previousHashedKey, keyHmac, ...record } = stored
    const frozen = Object.freeze(record) as unknown as R
    return {
      record: frozen,
      accepted: Object.freeze({ valid: true as const, apiKey: frozen }),
      hashedKey,
      previousHashedKey: previousHashedKey ?? null,
      keyHmac: keyHmac ?? null,
      read: ++this.#readCount,
      staleAt: readAt + this.#ttl
    }
  }

  // Rows are re-read before they go stale, REFRESH_BATCH prefixes a query,
  // every half TTL. Read one by one as they expired, 10,000 busy keys at a
  // 5 s TTL cost 2,000 queries a second: a whole core spent on Prisma.
  #startRefresher (): void {
    if (this.#refresher !== null) return
    this.#refresher = setInterval(() => { this.#refresh().catch(() => {}) }, Math.max(50, this.#ttl / 2))
    this.#refresher.unref()
  }

  async #refresh (): Promise<void> {
    const started = Date.now()
    const epoch = this.#epoch
    const due: string[] = []
    for (const [prefix, row] of this.#rows.entries()) {
      // Due if stale before the round after next: a round that runs late (a
      // busy event loop, a slow query) still lands before the row goes stale.
      if (row.staleAt - started <= this.#ttl * 0.75) due.push(prefix)
    }
    for (let i = 0; i < due.length; i += REFRESH_BATCH) {
      const batch = due.slice(i, i + REFRESH_BATCH)
      const stored = await this.#store.findByPrefixes(batch)
      // An invalidation during the query: leave the entries to expire and reload.
      if (epoch !== this.#epoch) return
      const found = new Set<string>()
      for (const row of stored) {
        found.add(row.prefix)
        this.#rows.replace(row.prefix, this.#toRow(row, started))
      }
      for (const prefix of batch) if (!found.has(prefix)) this.#rows.delete(prefix)
      await nextTurn()
    }
  }
}
