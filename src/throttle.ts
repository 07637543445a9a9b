import { Lru } from './lru.js'
import type { ThrottleSettings } from './options.js'

/** One unverified check taken from a prefix's budget; settle it once, when its outcome is known. */
export interface Attempt {
  /** A failure keeps its token spent; a match, or a check that could not run, gives it back. */
  settle: (failed: boolean) => void
}

interface Bucket {
  tokens: number
  at: number
  /** the stored hash the budget counts against (null: no such prefix) */
  against: string | null
}

/**
 * The budget of unverified checks per prefix, a token bucket: a burst of
 * `maxFailures`, then one more every `failureWindow / maxFailures`. Checks in
 * flight hold a token, so a burst cannot queue more hashes than the budget.
 *
 * The budget belongs to the prefix's current stored hash: a rotation (or a
 * re-hash) starts a full one, so wrong secrets sent before it, the leaked
 * old secret among them, cannot hold the new secret back. And since tokens
 * come back one at a time rather than after a whole window, a flood never
 * locks the prefix for long: its owner competes for the next token.
 */
export class Throttle {
  readonly #burst: number
  readonly #refill: number
  readonly #buckets: Lru<string, Bucket>

  constructor ({ maxFailures, failureWindow }: ThrottleSettings, size: number) {
    this.#burst = maxFailures
    this.#refill = failureWindow / maxFailures
    this.#buckets = new Lru(size)
  }

  /** A token for one check of `prefix` against `against`, or null when the budget is spent. */
  acquire (prefix: string, against: string | null, now: number): Attempt | null {
    let bucket = this.#buckets.get(prefix)
    if (bucket === undefined || bucket.against !== against) {
      bucket = { tokens: this.#burst, at: now, against }
      this.#buckets.set(prefix, bucket)
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) / this.#refill)
      bucket.at = now
    }
    if (bucket.tokens < 1) return null
    bucket.tokens--
    const held = bucket
    return {
      settle: (failed) => {
        if (!failed) held.tokens = Math.min(this.#burst, held.tokens + 1)
      }
    }
  }
}
