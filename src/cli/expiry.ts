import { usageError } from './failure.js'

const MINUTE = 60_000
const UNITS: Record<string, number> = {
  m: MINUTE,
  h: 60 * MINUTE,
  d: 24 * 60 * MINUTE,
  w: 7 * 24 * 60 * MINUTE,
  // A year of 365 days: an expiry is a policy, not a calendar anniversary.
  y: 365 * 24 * 60 * MINUTE
}
const DURATION = /^(\d{1,4})([mhdwy])$/
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/

// Date.parse rolls 2027-02-30 over to March 2nd; a typo must not become a date.
function realDay (year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

function parseDate (value: string): Date | null {
  const match = ISO.exec(value)
  if (match === null || !realDay(Number(match[1]), Number(match[2]), Number(match[3]))) return null
  const time = Date.parse(value)
  return Number.isNaN(time) ? null : new Date(time)
}

/** `--expires`: an ISO date (2027-01-31, 2027-01-31T12:00Z) or a duration from now (30d, 12h, 90m, 2w, 1y). */
export function parseExpiry (value: string, now: Date): Date {
  const duration = DURATION.exec(value)
  const expiresAt = duration !== null
    ? new Date(now.getTime() + Number(duration[1]) * UNITS[duration[2]])
    : parseDate(value)
  if (expiresAt === null) {
    throw usageError(`Invalid --expires ${JSON.stringify(value)}: use a date like 2027-01-31 or a duration like 30d, 12h, 90m, 2w, 1y`)
  }
  if (expiresAt.getTime() <= now.getTime()) {
    throw usageError(`Invalid --expires ${JSON.stringify(value)}: the key would be expired already`)
  }
  return expiresAt
}
