import type { UsageStore } from './usage-store.js'

export type UsagePeriodName = 'hour' | 'day'

const LENGTH: Record<UsagePeriodName, number> = { hour: 60 * 60 * 1000, day: 24 * 60 * 60 * 1000 }

/**
 * The start of the UTC hour or day holding `ms`. UTC has no daylight saving
 * and the epoch is a UTC midnight, so both are plain multiples of their length.
 */
export function periodStart (ms: number, period: UsagePeriodName): number {
  return Math.floor(ms / LENGTH[period]) * LENGTH[period]
}

/** The start of the period after the one holding `ms`. */
export function nextPeriod (ms: number, period: UsagePeriodName): number {
  return periodStart(ms, period) + LENGTH[period]
}

interface Tally {
  keyId: string
  periodStart: number
  count: number
}

/**
 * Counts accepted checks per key and period in memory, and adds them to the
 * database in batches: one increment per key and period per flush, never on
 * the request path. A failed flush keeps what it did not write for the next
 * one; close() flushes what is left. Counts still in memory when a process
 * dies are lost: at most one interval's worth.
 */
export class UsageCounter {
  readonly #store: UsageStore
  readonly #period: UsagePeriodName
  readonly #interval: number
  readonly #onError: (err: unknown) => void
  // `${periodStart} ${keyId}` -> its tally, until written
  #pending = new Map<string, Tally>()
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null

  constructor (store: UsageStore, period: UsagePeriodName, interval: number, onError: (err: unknown) => void) {
    this.#store = store
    this.#period = period
    this.#interval = interval
    this.#onError = onError
  }

  count (keyId: string, now: number): void {
    const start = periodStart(now, this.#period)
    const name = `${start} ${keyId}`
    const tally = this.#pending.get(name)
    if (tally === undefined) this.#pending.set(name, { keyId, periodStart: start, count: 1 })
    else tally.count++
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
    }, this.#interval)
    this.#timer.unref()
  }

  async flush (): Promise<void> {
    // As in LastUsedWriter: a flush running is waited for; what it failed to
    // write is back in #pending by then, and this flush writes it.
    if (this.#flushing !== null) await this.#flushing.catch(() => {})
    if (this.#pending.size === 0) return
    const batch = this.#pending
    this.#pending = new Map()
    this.#flushing = this.#write(batch)
      .catch((err) => {
        // Counted meanwhile and not written: both are owed.
        for (const [name, tally] of batch) {
          const newer = this.#pending.get(name)
          if (newer !== undefined) tally.count += newer.count
          this.#pending.set(name, tally)
        }
        throw err
      })
      .finally(() => { this.#flushing = null })
    await this.#flushing
  }

  // One at a time, each tally taken out of the batch once written: a failure
  // leaves in it only what was not added, so nothing is added twice.
  async #write (batch: Map<string, Tally>): Promise<void> {
    for (const [name, { keyId, periodStart, count }] of batch) {
      await this.#store.add(keyId, new Date(periodStart), count)
      batch.delete(name)
    }
  }

  async close (): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    await this.flush()
  }
}
