/**
 * Where a reader of the change log stands: every id up to `at` handled, and
 * the ones handled beyond it. Ids are handed out when a change is written but
 * become visible when its transaction commits, so a reader may see 12 before
 * 11 commits (MySQL); a gap is kept open for `hold` ms, each poll re-reading
 * from `at`, and given up after (its id was rolled back, or its change is
 * caught by the TTL of the rows it touched). Time here is the caller's
 * monotonic clock: no database or wall clock decides what is read.
 */
export class ChangeCursor {
  readonly #hold: number
  #at: number
  readonly #beyond = new Set<number>()
  // The gap being waited for: the id after `at`, since when.
  #gap: { at: number, since: number } | null = null

  constructor (at: number, hold: number) {
    this.#at = at
    this.#hold = hold
  }

  /** Every id up to this one has been handled: a poll reads the ids above it. */
  get at (): number {
    return this.#at
  }

  /** The ids of a poll not handled before (the caller handles them now). */
  take (ids: number[], now: number): number[] {
    const fresh = ids.filter((id) => id > this.#at && !this.#beyond.has(id))
    for (const id of fresh) this.#beyond.add(id)
    this.#advance()
    if (this.#gap !== null && this.#gap.at === this.#at && now - this.#gap.since >= this.#hold) {
      // Give up on the gap: skip to the first id seen past it.
      this.#at = Math.min(...this.#beyond) - 1
      this.#advance()
    }
    if (this.#beyond.size === 0) this.#gap = null
    else if (this.#gap?.at !== this.#at) this.#gap = { at: this.#at, since: now }
    return fresh
  }

  #advance (): void {
    while (this.#beyond.delete(this.#at + 1)) this.#at++
  }
}
