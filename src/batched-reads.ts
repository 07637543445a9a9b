import type { Store } from './store.js'
import type { ApiKeyRecord, StoredApiKey } from './types.js'

/**
 * Row reads gathered over one event-loop turn and sent as one query: 50 new
 * keys arriving together cost one findMany, not 50 findUniques (a lone read
 * stays a findUnique).
 */
export class BatchedReads<R extends ApiKeyRecord> {
  readonly #store: Store<R>
  #pending = new Map<string, Array<{ resolve: (row: StoredApiKey<R> | null) => void, reject: (err: unknown) => void }>>()

  constructor (store: Store<R>) {
    this.#store = store
  }

  async read (prefix: string): Promise<StoredApiKey<R> | null> {
    return await new Promise((resolve, reject) => {
      if (this.#pending.size === 0) setImmediate(() => { this.#flush().catch(() => {}) })
      const waiting = this.#pending.get(prefix)
      if (waiting === undefined) this.#pending.set(prefix, [{ resolve, reject }])
      else waiting.push({ resolve, reject })
    })
  }

  async #flush (): Promise<void> {
    const batch = this.#pending
    this.#pending = new Map()
    const prefixes = [...batch.keys()]
    try {
      const rows = prefixes.length === 1
        ? [await this.#store.findByPrefix(prefixes[0])].filter((row) => row !== null)
        : await this.#store.findByPrefixes(prefixes)
      const byPrefix = new Map(rows.map((row) => [row.prefix, row]))
      for (const [prefix, waiting] of batch) for (const { resolve } of waiting) resolve(byPrefix.get(prefix) ?? null)
    } catch (err) {
      for (const waiting of batch.values()) for (const { reject } of waiting) reject(err)
    }
  }
}
