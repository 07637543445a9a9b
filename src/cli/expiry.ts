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

/** 30d, 12h, 90m, 2w, 1y in milliseconds; null for anything else. */
function parseDuration (value: string): number | null {
  const match = DURATION.exec(value)
  return match === null ? null : Number(match[1]) * UNITS[match[2]]
}

/** `--expires`: an ISO date (2027-01-31, 2027-01-31T12:00Z) or a duration from now (30d, 12h, 90m, 2w, 1y). */
export function parseExpiry (value: string, now: Date): Date {
  const duration = parseDuration(value)
  const expiresAt = duration !== null ? new Date(now.getTime() + duration) : parseDate(value)
  if (expiresAt === null) {
    throw usageError(`Invalid --expires ${JSON.stringify(value)}: use a date like 2027-01-31 or a duration like 30d, 12h, 90m, 2w, 1y`)
  }
  if (expiresAt.getTime() <= now.getTime()) {
    throw usageError(`Invalid --expires ${JSON.stringify(value)}: the key would be expired already`)
  }
  return expiresAt
}

/** `--grace`: how long a rotated key's old secret keeps working, 0 to a year (the manager's limit). */
export function parseGrace (value: string): number {
  const grace = value === '0' ? 0 : parseDuration(value)
  if (grace === null) throw usageError(`Invalid --grace ${JSON.stringify(value)}: use a duration like 30m, 24h, 7d, or 0 for none`)
  if (grace > UNITS.y) throw usageError(`Invalid --grace ${JSON.stringify(value)}: at most a year (1y, 365d)`)
  return grace
}

/** A grace period as the shortest exact duration: 90m stays 90m, 1440m is 1d. */
export function formatDuration (ms: number): string {
  const unit = Object.keys(UNITS).reverse().find((name) => ms % UNITS[name] === 0) as string
  return `${ms / UNITS[unit]}${unit}`
}
