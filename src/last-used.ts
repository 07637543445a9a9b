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
  // id -> when it was used, until written
  #pending = new Map<string, number>()
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null
  readonly #onError: (err: unknown) => void

  constructor (store: Store<any>, interval: number, onError: (err: unknown) => void) {
    this.#store = store
    this.#interval = interval
    this.#onError = onError
  }

  touch (id: string, now: number): void {
    if (this.#interval === 0) return
    const last = this.#marked.get(id)
    if (last !== undefined && now - last < this.#interval) return
    this.#marked.set(id, now)
    this.#pending.set(id, now)
    this.#schedule()
  }

  #schedule (): void {
    if (this.#timer !== null) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.flush().catch((err) => {
        this.#onError(err)
        this.#schedule()
      })
    }, Math.min(this.#interval, 1000))
    this.#timer.unref()
  }

  async flush (): Promise<void> {
    // A flush already running: wait for it, failed or not. Its marks are back
    // in #pending if it failed, and this flush writes them.
    if (this.#flushing !== null) await this.#flushing.catch(() => {})
    if (this.#pending.size === 0) return
    const batch = this.#pending
    this.#pending = new Map()
    this.#flushing = this.#write(batch)
      .catch((err) => {
        // Back in line; a newer use of the same key, marked meanwhile, wins.
        this.#pending = new Map([...batch, ...this.#pending])
        throw err
      })
      .finally(() => { this.#flushing = null })
    await this.#flushing
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
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    await this.flush()
  }
}
