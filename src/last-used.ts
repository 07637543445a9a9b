import { BatchedWrites } from './batched-writes.js'
import type { Store } from './store.js'

/**
 * Records when keys were last used without touching the request path: a key
 * is marked at most once per interval, and marks are written in one
 * `updateMany` per flush. A failed flush keeps its marks for the next one;
 * close() flushes what is left.
 */
export class LastUsedWriter {
  readonly #store: Store<any>
  readonly #interval: number
  readonly #marked = new Map<string, number>()
  // id -> when it was used, until written; a newer use wins over a failed write's.
  readonly #writes: BatchedWrites<string, number>

  constructor (store: Store<any>, interval: number, onError: (err: unknown) => void) {
    this.#store = store
    this.#interval = interval
    this.#writes = new BatchedWrites(Math.min(interval, 1000), async (batch) => await this.#write(batch), (failed, newer) => newer ?? failed, onError)
  }

  touch (id: string, now: number): void {
    if (this.#interval === 0) return
    const last = this.#marked.get(id)
    if (last !== undefined && now - last < this.#interval) return
    this.#marked.set(id, now)
    this.#writes.set(id, now)
  }

  async flush (): Promise<void> {
    await this.#writes.flush()
    // Forget marks older than an interval: they can no longer hold a write back.
    const horizon = Date.now() - this.#interval
    for (const [id, at] of this.#marked) if (at < horizon) this.#marked.delete(id)
  }

  // Each key is stamped with its own latest use, to within a second: keys are
  // grouped by whole seconds before the batch's latest use, one write a
  // group. A batch of one flush interval is one write; one held back by an
  // outage is not stamped with its last use (nor with the time of the write).
  async #write (batch: Map<string, number>): Promise<void> {
    let latest = 0
    for (const at of batch.values()) latest = Math.max(latest, at)
    const groups = new Map<number, string[]>()
    for (const [id, at] of batch) {
      const stamp = latest - Math.floor((latest - at) / 1000) * 1000
      const ids = groups.get(stamp)
      if (ids === undefined) groups.set(stamp, [id])
      else ids.push(id)
    }
    for (const [stamp, ids] of groups) await this.#store.touchLastUsed(ids, new Date(stamp))
  }

  async close (): Promise<void> {
    await this.#writes.close()
  }
}
