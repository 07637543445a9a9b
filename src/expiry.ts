// An expiry as a person types it, read one way by every surface that takes
// one (the CLI's --expires, the admin panel's form, through its API), so that
// the same text always stores the same instant, whatever the time zone of the
// machine or of the browser.
//
// - a date, 2027-01-31: the key works through that day in UTC, and is refused
//   from the next midnight UTC (expiresAt 2027-02-01T00:00:00.000Z);
// - an instant, 2027-01-31T12:00Z or 2027-01-31T12:00:30+02:00: exactly that;
//   a time without its zone is refused rather than guessed;
// - a duration from now: 90m, 12h, 30d, 2w, 1y.
// Date.parse is not used: it rolls 2027-02-30 over to March 2nd, takes 24:00,
// and reads a time without a zone in the local one.

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
export const DURATION_UNITS: Record<string, number> = {
  m: MINUTE,
  h: 60 * MINUTE,
  d: DAY,
  w: 7 * DAY,
  // A year of 365 days: an expiry is a policy, not a calendar anniversary.
  y: 365 * DAY
}
/** The longest a rotated-out secret may keep working: a year, for the manager and the CLI alike. */
export const MAX_GRACE_PERIOD = DURATION_UNITS.y

/** A duration as the shortest exact one: 90m stays 90m, 1440m is 1d; milliseconds when no unit fits. */
export function formatDuration (ms: number): string {
  const unit = Object.keys(DURATION_UNITS).reverse().find((name) => ms % DURATION_UNITS[name] === 0)
  return unit === undefined ? `${ms} ms` : `${ms / DURATION_UNITS[unit]}${unit}`
}

const DURATION = /^(\d{1,4})([mhdwy])$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?$/

export const EXPIRY_FORMATS = 'use a date like 2027-01-31 or a duration like 30d, 12h, 90m, 2w, 1y'

type Parsed = { value: Date } | { problem: string }

/** 30d, 12h, 90m, 2w, 1y in milliseconds; null for anything else. */
export function parseDuration (text: string): number | null {
  const match = DURATION.exec(text)
  return match === null ? null : Number(match[1]) * DURATION_UNITS[match[2]]
}

// Midnight UTC starting the day, or why there is no such day.
function startOfDay (year: string, month: string, day: string): number | string {
  const m = Number(month)
  if (m < 1 || m > 12) return `there is no month ${month}`
  const days = new Date(Date.UTC(Number(year), m, 0)).getUTCDate()
  if (Number(day) < 1 || Number(day) > days) return `there is no ${year}-${month}-${day}: ${year}-${month} has ${days} days`
  const date = new Date(0)
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  date.setUTCFullYear(Number(year), m - 1, Number(day))
  return date.getTime()
}

function parseInstant (match: RegExpExecArray): number | string {
  const [, year, month, day, hours, minutes, seconds = '0', fraction = '0', zone] = match
  if (zone === undefined) return `give the time zone: ${match[0]}Z (UTC) or ${match[0]}+02:00`
  const start = startOfDay(year, month, day)
  if (typeof start === 'string') return start
  const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)))
  if (Number(hours) > 23 || Number(minutes) > 59 || Number(seconds) > 59 || Math.abs(offset) >= 24 * 60) {
    return `there is no time ${match[0].slice(11)}`
  }
  const ms = Number(fraction.padEnd(3, '0'))
  return start + ((Number(hours) * 60 + Number(minutes) - offset) * 60 + Number(seconds)) * 1000 + ms
}

const DATE_FORMATS = 'use a date like 2026-11-01 (UTC) or a time with its zone like 2026-11-01T12:00Z'

/**
 * A date, as its midnight UTC (with `through`, the next one: the day is
 * included), or an instant with its zone; or why `text` is neither. The CLI's
 * --from and --to read dates this way, expiries too.
 */
export function readDate (text: string, through = false): Parsed {
  const date = DATE.exec(text)
  const instant = INSTANT.exec(text)
  let time: number | string
  if (date !== null) {
    const start = startOfDay(date[1], date[2], date[3])
    time = typeof start === 'string' ? start : start + (through ? DAY : 0)
  } else time = instant === null ? DATE_FORMATS : parseInstant(instant)
  return typeof time === 'string' ? { problem: time } : { value: new Date(time) }
}

/**
 * The instant a key typed to expire at `text` stops working, or why there is
 * none: `text` does not parse, names no real day or time, or is not after `now`.
 */
export function readExpiry (text: string, now: Date): Parsed {
  const duration = parseDuration(text)
  let expiry: Parsed
  if (duration !== null) expiry = { value: new Date(now.getTime() + duration) }
  else if (DATE.test(text) || INSTANT.test(text)) expiry = readDate(text, true)
  else expiry = { problem: EXPIRY_FORMATS }
  if ('problem' in expiry) return expiry
  if (expiry.value.getTime() <= now.getTime()) return { problem: 'the key would be expired already' }
  return expiry
}
