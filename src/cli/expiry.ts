import { DURATION_UNITS, MAX_GRACE_PERIOD, parseDuration, readDate, readExpiry } from '../expiry.js'
import { usageError } from './failure.js'

/** `--expires`: read as the admin panel reads its form (src/expiry.ts). */
export function parseExpiry (value: string, now: Date): Date {
  const expiry = readExpiry(value, now)
  if ('problem' in expiry) throw usageError(`Invalid --expires ${JSON.stringify(value)}: ${expiry.problem}`)
  return expiry.value
}

/** `--from` and `--to`: a date (for --to, through that day) or an instant, in UTC unless its zone is given. */
export function parseDate (flag: 'from' | 'to', value: string): Date {
  const date = readDate(value, flag === 'to')
  if ('problem' in date) throw usageError(`Invalid --${flag} ${JSON.stringify(value)}: ${date.problem}`)
  return date.value
}

/** `--idle`: how long a key must have gone unused to be swept, an hour or more (the manager's minimum). */
export function parseIdle (value: string): number {
  const idle = parseDuration(value)
  if (idle === null) throw usageError(`Invalid --idle ${JSON.stringify(value)}: use a duration like 90d, 12w, 1y`)
  if (idle < DURATION_UNITS.h) throw usageError(`Invalid --idle ${JSON.stringify(value)}: at least an hour (1h)`)
  return idle
}

/** `--grace`: how long a rotated key's old secret keeps working, 0 to a year (the manager's limit). */
export function parseGrace (value: string): number {
  const grace = value === '0' ? 0 : parseDuration(value)
  if (grace === null) throw usageError(`Invalid --grace ${JSON.stringify(value)}: use a duration like 30m, 24h, 7d, or 0 for none`)
  if (grace > MAX_GRACE_PERIOD) throw usageError(`Invalid --grace ${JSON.stringify(value)}: at most a year (1y, 365d)`)
  return grace
}
