import { BatchedWrites } from './batched-writes.js'
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
  // `${periodStart} ${keyId}` -> its tally, until written; counted meanwhile
  // and not written, both are owed.
  readonly #writes: BatchedWrites<string, Tally>

  constructor (store: UsageStore, period: UsagePeriodName, interval: number, onError: (err: unknown) => void) {
    this.#store = store
    this.#period = period
    this.#writes = new BatchedWrites(interval, async (batch) => await this.#write(batch), (failed, newer) => {
      if (newer !== undefined) failed.count += newer.count
      return failed
    }, onError)
  }

  count (keyId: string, now: number): void {
    const start = periodStart(now, this.#period)
    const name = `${start} ${keyId}`
    const tally = this.#writes.get(name)
    if (tally === undefined) this.#writes.set(name, { keyId, periodStart: start, count: 1 })
    else tally.count++
  }

  async flush (): Promise<void> {
    await this.#writes.flush()
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
    await this.#writes.close()
  }
}
