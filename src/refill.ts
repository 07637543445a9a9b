// Refill policies of the credits feature (docs/usage.md): when a key's
// balance is refilled, and to what. Pure: the policy, the last refill and the
// clock in, the refill out. Refills are lazy: nothing runs at midnight; the
// first reservation after a refill's moment applies it (src/credits.ts).

/** The largest balance a key can hold: an SQL INTEGER on all three databases. */
export const MAX_CREDITS = 2_147_483_647
const MAX_AMOUNT = 1_000_000_000
const MAX_SECONDS = 366 * 24 * 60 * 60
const DAY = 24 * 60 * 60 * 1000

export interface RefillPolicy {
  unit: 'day' | 'month' | 'seconds'
  /** month: the day of the month (1-31; in shorter months, their last day) */
  day: number
  /** seconds: the interval */
  seconds: number
  amount: number
  /** add the amount to what is left, instead of replacing it */
  add: boolean
}

const REFILL_RULE = 'expected day:AMOUNT, month:DAY:AMOUNT or every:SECONDS:AMOUNT (UTC; AMOUNT 1 to 1000000000, DAY 1 to 31, SECONDS 1 to 31622400), ' +
  'with :add at the end to add the amount instead of replacing the balance, e.g. day:1000 or month:1:50000:add'

const POLICY = /^(?:day|month:(\d{1,2})|every:(\d{1,8})):(\d{1,10})(:add)?$/

/** A stored policy; null when it does not parse (then no refill happens). */
export function parseRefill (text: string): RefillPolicy | null {
  const match = POLICY.exec(text)
  if (match === null) return null
  const [, day, seconds, amount, add] = match
  const policy: RefillPolicy = {
    unit: day !== undefined ? 'month' : seconds !== undefined ? 'seconds' : 'day',
    day: day === undefined ? 0 : Number(day),
    seconds: seconds === undefined ? 0 : Number(seconds),
    amount: Number(amount),
    add: add !== undefined
  }
  const valid = policy.amount >= 1 && policy.amount <= MAX_AMOUNT &&
    (policy.unit !== 'month' || (policy.day >= 1 && policy.day <= 31)) &&
    (policy.unit !== 'seconds' || (policy.seconds >= 1 && policy.seconds <= MAX_SECONDS))
  return valid ? policy : null
}

/** A caller's policy as stored (lower case, trimmed), or what is wrong with it; null is no refill. */
export function readRefill (value: unknown): { value: string | null } | { problem: string } {
  if (value === null) return { value: null }
  if (typeof value !== 'string') return { problem: `expected a refill policy such as 'day:1000' or null, ${REFILL_RULE}` }
  const text = value.trim().toLowerCase()
  return parseRefill(text) === null ? { problem: `${JSON.stringify(value)}: ${REFILL_RULE}` } : { value: text }
}

// The month's refill moment: midnight UTC of the policy's day, or of the
// month's last day when it is shorter. `month` counts from year 0.
function monthMoment (month: number, day: number): number {
  const year = Math.floor(month / 12)
  const index = month - year * 12
  const last = new Date(Date.UTC(year, index + 1, 0)).getUTCDate()
  return Date.UTC(year, index, Math.min(day, last))
}

const monthOf = (ms: number): number => { const date = new Date(ms); return date.getUTCFullYear() * 12 + date.getUTCMonth() }

// The refill moments in (anchor, now]: the latest, and how many.
function momentsSince (policy: RefillPolicy, anchor: number, now: number): { at: number, count: number } | null {
  if (now <= anchor) return null
  if (policy.unit === 'day') {
    const count = Math.floor(now / DAY) - Math.floor(anchor / DAY)
    return count > 0 ? { at: Math.floor(now / DAY) * DAY, count } : null
  }
  if (policy.unit === 'seconds') {
    const count = Math.floor((now - anchor) / (policy.seconds * 1000))
    return count > 0 ? { at: anchor + count * policy.seconds * 1000, count } : null
  }
  let latest = monthOf(now)
  if (monthMoment(latest, policy.day) > now) latest--
  let first = monthOf(anchor)
  if (monthMoment(first, policy.day) <= anchor) first++
  return latest >= first ? { at: monthMoment(latest, policy.day), count: latest - first + 1 } : null
}

/**
 * The refill due at `now` for a key refilled last at `anchor` holding
 * `balance`: the new balance and the moment it counts from (the next
 * refill's anchor), or null when none is due. Refills missed replace once,
 * or add once each.
 */
export function refillDue (policy: RefillPolicy, anchor: number, now: number, balance: number): { credits: number, at: number } | null {
  const due = momentsSince(policy, anchor, now)
  if (due === null) return null
  const credits = policy.add ? Math.min(MAX_CREDITS, balance + policy.amount * due.count) : policy.amount
  return { credits, at: due.at }
}

/** When the next refill after `now` is due (for Retry-After). */
export function nextRefill (policy: RefillPolicy, anchor: number, now: number): number {
  if (policy.unit === 'day') return (Math.floor(now / DAY) + 1) * DAY
  if (policy.unit === 'seconds') {
    const length = policy.seconds * 1000
    return anchor + (Math.max(0, Math.floor((now - anchor) / length)) + 1) * length
  }
  const month = monthOf(now)
  const moment = monthMoment(month, policy.day)
  return moment > now ? moment : monthMoment(month + 1, policy.day)
}
