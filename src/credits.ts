import { errors } from './errors.js'
import { nextRefill, parseRefill, refillDue, type RefillPolicy } from './refill.js'
import type { Store } from './store.js'

/** What spending credits on a call ends in: paid, or refused with when to try again (seconds; null: no refill is due). */
export type Payment = { paid: true } | { paid: false, retryAfter: number | null }

const PAID: Payment = Object.freeze({ paid: true })

/** The credits feature's view of a record: `credits` null (or absent) is unlimited. */
export interface CreditRecord {
  id: string
  prefix?: string
  credits?: number | null
}

// A block lasts about a second of this instance's calls on the key: long
// enough to spare the database (a busy key costs about one reservation a
// second), short enough that a crash strands little. It doubles while
// reservations come within FAST of each other, halves when one took longer
// than SLOW, and never exceeds MAX_BLOCK nor half of what the key had left
// when last seen.
const FAST = 1_000
const SLOW = 10_000
const MAX_BLOCK = 100_000
// A key out of credits is refused from memory this long (or until its next
// refill, if sooner) before the database is asked again: a flood of calls on
// a spent key costs at most a query a second per instance.
const RECHECK = 1_000
// Reservations racing other instances' for the last credits: each attempt
// reads the balance again, so this bounds only a pathological race.
const ATTEMPTS = 10

// What a reservation asks for: at least the call's need, at most the block
// size and half of the balance seen (so instances sharing a key share its tail).
const blockOf = (account: { block: number }, need: number, balance: number): number =>
  Math.max(need, Math.min(account.block, Math.max(1, Math.ceil(balance / 2))))

// Seconds until the account's next refill (at least 1), or null when none is due.
const retryAfterOf = (account: { refillAt: number | null }, now: number): number | null =>
  account.refillAt === null ? null : Math.max(1, Math.ceil((account.refillAt - now) / 1000))

interface Account {
  /** reserved by this instance and not spent */
  left: number
  /** the next reservation's size */
  block: number
  reservedAt: number
  /** the key's creditsRefilledAt when its credits were reserved: unspent ones go back only into that same period */
  anchor: Date | null
  /** what the database held after the last reservation; null before the first */
  balance: number | null
  /** the key's refill policy and last refill (ms) when its credits were last read: whether a refill may be due */
  refill: { policy: RefillPolicy, anchor: number } | null
  /** spent: refused from memory until then */
  refusedUntil: number
  /** when the next refill is due (ms), for Retry-After; null when none is */
  refillAt: number | null
  /** the database says the key has no limit (any more): paid from memory until then */
  freeUntil: number
  /** found out of credits, and told so, since its last reservation */
  exhausted: boolean
  reserving: Promise<void> | null
}

/**
 * Credits spent from memory: each instance reserves a block of a key's
 * credits with one conditional update that never takes the balance below
 * zero, spends it locally, and reserves again when it runs out. So the
 * database sees one write per block, not per call, and all instances
 * together never let through more calls than the key had. Refills are
 * applied by the first reservation after they are due, by a compare-and-set
 * on the balance and creditsRefilledAt, so one instance applies each.
 * close() gives back what is reserved and unspent; a crash strands it (at
 * most one block per key per instance).
 */
export class CreditLedger {
  readonly #store: Store<any>
  readonly #accounts = new Map<string, Account>()
  readonly #exhausted: (record: CreditRecord, retryAfter: number | null) => void

  /** `exhausted` hears of a key found out of credits: once, until it pays again. */
  constructor (store: Store<any>, exhausted: (record: CreditRecord, retryAfter: number | null) => void) {
    this.#store = store
    this.#exhausted = exhausted
  }

  /** The payment from memory, synchronously; null when it needs the database (call spend). */
  spendCached (record: CreditRecord, cost: number, now: number): Payment | null {
    if (record.credits === null || record.credits === undefined || cost === 0) return PAID
    const account = this.#accounts.get(record.id)
    if (account === undefined) return null
    if (account.left >= cost) {
      account.left -= cost
      return PAID
    }
    if (now < account.freeUntil) return PAID
    // Refused from memory only what the database could not pay when last asked.
    // (#refuse set the balance with refusedUntil.)
    if (account.reserving === null && now < account.refusedUntil && cost - account.left > (account.balance as number)) {
      return { paid: false, retryAfter: retryAfterOf(account, now) }
    }
    return null
  }

  /** Pays `cost` credits of the key, reserving more from the database when this instance has too few. */
  async spend (record: CreditRecord, cost: number): Promise<Payment> {
    for (;;) {
      const now = Date.now()
      const cached = this.spendCached(record, cost, now)
      if (cached !== null) return cached
      let account = this.#accounts.get(record.id)
      if (account === undefined) {
        account = { left: 0, block: 1, reservedAt: 0, anchor: null, balance: null, refill: null, refusedUntil: 0, refillAt: null, freeUntil: 0, exhausted: false, reserving: null }
        this.#accounts.set(record.id, account)
      }
      // One reservation at a time per key: the others wait and pay from it.
      if (account.reserving === null) {
        const reserving: Promise<void> = this.#reserve(record, account, cost - account.left, now)
          .finally(() => { if (account.reserving === reserving) account.reserving = null })
        account.reserving = reserving
      }
      await account.reserving
    }
  }

  /** What the key has left, as far as this instance knows (null: unlimited). */
  balance (record: CreditRecord): number | null {
    if (record.credits === null || record.credits === undefined) return null
    const account = this.#accounts.get(record.id)
    if (account === undefined || account.balance === null) return record.credits
    return account.balance + account.left
  }

  /** The key's credits were set: what this instance reserved before is void. */
  forget (id: string): void {
    this.#accounts.delete(id)
  }

  /** Gives back every unspent reserved credit; a failure is thrown after the rest went back. */
  async close (): Promise<void> {
    let failure: unknown = null
    for (const [id, account] of this.#accounts) {
      if (account.left === 0) continue
      try {
        await this.#store.returnCredits(id, account.left, account.anchor)
        account.left = 0
      } catch (err) {
        failure ??= err
      }
    }
    if (failure !== null) throw failure
  }

  async #reserve (record: CreditRecord, account: Account, need: number, now: number): Promise<void> {
    const { id } = record
    if (account.reservedAt > 0) {
      const lasted = now - account.reservedAt
      if (lasted < FAST) account.block = Math.min(account.block * 2, MAX_BLOCK)
      else if (lasted > SLOW) account.block = Math.max(1, Math.floor(account.block / 2))
    }
    // The usual reservation of a busy key: one conditional update, sized from
    // what the last read said, when no refill can have come due since.
    if (account.balance !== null && account.balance >= need && (account.refill === null || refillDue(account.refill.policy, account.refill.anchor, now, 0) === null)) {
      const take = blockOf(account, need, account.balance)
      if (await this.#store.takeCredits(id, take)) return this.#reserved(account, take, account.balance - take, account.anchor, now)
    }
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const row = await this.#store.creditsOf(id)
      // Deleted meanwhile: nothing to pay with (its check fails once the cache knows).
      if (row === null) return this.#refuse(account, null, now)
      if (row.credits === null) {
        account.freeUntil = now + RECHECK
        return
      }
      const policy = row.creditRefill === null ? null : parseRefill(row.creditRefill)
      const anchor = (row.creditsRefilledAt ?? row.createdAt).getTime()
      account.refill = policy === null ? null : { policy, anchor }
      if (policy !== null) {
        const due = refillDue(policy, anchor, now, row.credits)
        // Whether this instance's refill or another's won, read again.
        if (due !== null) {
          await this.#store.refillCredits(id, row, due.credits, new Date(due.at))
          continue
        }
      }
      // Before any balance was seen, the block alone: the first one is small anyway.
      const take = Math.min(row.credits, blockOf(account, need, account.balance === null ? Infinity : row.credits))
      if (take < need) {
        this.#refuse(account, policy === null ? null : { policy, anchor }, now, row.credits)
        if (!account.exhausted) {
          account.exhausted = true
          this.#exhausted(record, retryAfterOf(account, now))
        }
        return
      }
      if (await this.#store.takeCredits(id, take)) return this.#reserved(account, take, row.credits - take, row.creditsRefilledAt, now)
    }
    throw new errors.UNAVAILABLE({ cause: new Error(`credits of key ${id} kept changing during ${ATTEMPTS} reservations`) })
  }

  #reserved (account: Account, taken: number, balance: number, anchor: Date | null, now: number): void {
    account.left += taken
    account.exhausted = false
    account.balance = balance
    account.anchor = anchor
    account.reservedAt = now
  }

  #refuse (account: Account, refill: { policy: RefillPolicy, anchor: number } | null, now: number, balance = 0): void {
    account.balance = balance
    account.refillAt = refill === null ? null : nextRefill(refill.policy, refill.anchor, now)
    account.refusedUntil = Math.min(now + RECHECK, account.refillAt ?? Infinity)
  }
}
