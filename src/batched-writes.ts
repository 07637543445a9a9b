/**
 * Writes gathered in memory by key and written in batches off the request
 * path: a batch `delay` ms after the first pending write, on flush(), and a
 * last one on close(). One batch at a time: a flush while one runs waits for
 * it. A batch that fails goes back in line (the caller's `requeue` says how it
 * combines with what was gathered meanwhile) for the next one, and the
 * failure reaches onError when no caller waits for it. The skeleton of
 * lastUsedAt's writes (src/last-used.ts) and the usage counts' (src/usage.ts).
 */
export class BatchedWrites<K, V> {
  readonly #delay: number
  readonly #write: (batch: Map<K, V>) => Promise<void>
  readonly #requeue: (failed: V, newer: V | undefined) => V
  readonly #onError: (err: unknown) => void
  #pending = new Map<K, V>()
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null

  /**
   * `write` may delete from the batch what it wrote: a failure then puts back
   * only the rest. `requeue(failed, newer)`: the value to keep for a key whose
   * write failed, given what was gathered for it since (undefined if nothing).
   */
  constructor (delay: number, write: (batch: Map<K, V>) => Promise<void>, requeue: (failed: V, newer: V | undefined) => V, onError: (err: unknown) => void) {
    this.#delay = delay
    this.#write = write
    this.#requeue = requeue
    this.#onError = onError
  }

  /** What waits to be written for `key`: the caller changes it in place, or sets a new one. */
  get (key: K): V | undefined {
    return this.#pending.get(key)
  }

  set (key: K, value: V): void {
    this.#pending.set(key, value)
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
    }, this.#delay)
    this.#timer.unref()
  }

  async flush (): Promise<void> {
    // A flush already running: wait for it, failed or not. What it failed to
    // write is back in line by then, and this flush writes it.
    if (this.#flushing !== null) await this.#flushing.catch(() => {})
    if (this.#pending.size === 0) return
    const batch = this.#pending
    this.#pending = new Map()
    this.#flushing = this.#write(batch)
      .catch((err) => {
        for (const [key, failed] of batch) this.#pending.set(key, this.#requeue(failed, this.#pending.get(key)))
        throw err
      })
      .finally(() => { this.#flushing = null })
    await this.#flushing
  }

  async close (): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    await this.flush()
  }
}
