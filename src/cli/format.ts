import type { ApiKeyEvent } from '../events.js'
import type { ApiKeyStatus } from '../status.js'
import type { ApiKeyRecord } from '../types.js'
import type { UsagePeriod } from '../usage-store.js'
import { formatPairs, formatTable } from './table.js'

// The library's columns, printed below in their own words (disabled as the
// status); the usage-limit columns (docs/usage.md) are the library's too, so
// not printed as the app's own. Every other column is the app's.
const OWN_FIELDS = new Set(['id', 'prefix', 'name', 'revoked', 'expiresAt', 'createdAt', 'lastUsedAt', 'scopes', 'previousKeyExpiresAt',
  'disabled', 'allowedIps', 'credits', 'creditRefill', 'creditsRefilledAt', 'importedFrom'])

// Minutes are enough to tell keys apart in a table; `show` gives the full time.
const shortDate = (date: Date | null, none: string): string => date === null ? none : `${date.toISOString().slice(0, 16).replace('T', ' ')}Z`
const fullDate = (date: Date | null, none: string): string => date === null ? none : date.toISOString()

function text (value: unknown): string {
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object' && value !== null) return toJson(value, 0)
  return String(value)
}

export function formatList (records: Array<{ record: ApiKeyRecord, status: ApiKeyStatus }>): string {
  return formatTable(
    ['NAME', 'PREFIX', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED', 'SCOPES'],
    records.map(({ record, status }) => [
      record.name,
      record.prefix,
      status,
      shortDate(record.createdAt, '-'),
      shortDate(record.expiresAt, 'never'),
      shortDate(record.lastUsedAt, 'never'),
      record.scopes === '' ? '-' : record.scopes
    ])
  )
}

/** One key, field by field, with the extra columns of a custom model after the library's own. */
export function formatRecord (record: ApiKeyRecord, status: ApiKeyStatus): string {
  const extra = Object.entries(record).filter(([field]) => !OWN_FIELDS.has(field))
  return formatPairs([
    ['name', record.name],
    ['id', record.id],
    ['prefix', record.prefix],
    ['status', status],
    ['created', fullDate(record.createdAt, '-')],
    ['expires', fullDate(record.expiresAt, 'never')],
    ['last used', fullDate(record.lastUsedAt, 'never')],
    ['scopes', record.scopes === '' ? 'none' : record.scopes],
    // Only for a key that has been rotated: when its old secret stops (or stopped) working.
    ...(record.previousKeyExpiresAt === null ? [] : [['old secret until', fullDate(record.previousKeyExpiresAt, '-')] as [string, string]]),
    // Only for a key with an allowlist (ipAllowlist): nothing is anywhere.
    ...(typeof record.allowedIps === 'string' ? [['allowed from', record.allowedIps.split(' ').join(', ')] as [string, string]] : []),
    // Only for a key with credits: nothing is unlimited.
    ...(typeof record.credits === 'number' ? [['credits', `${record.credits}${refillText(record)}`] as [string, string]] : []),
    // Only for an imported key (docs/migrating.md): where it came from.
    ...(typeof record.importedFrom === 'string' ? [['imported from', record.importedFrom] as [string, string]] : []),
    ...extra.map(([field, value]): [string, string] => [field, text(value)])
  ])
}

const refillText = (record: ApiKeyRecord): string => typeof record.creditRefill === 'string' ? `, refilled by ${record.creditRefill}` : ''

/** A limited key's balance in the database, and its refill. */
export function formatCredits (record: ApiKeyRecord): string {
  return `${record.credits as number} credits left in the database${refillText(record) === '' ? ', never refilled' : refillText(record)}`
}

/** Periods oldest first, then their total. */
export function formatUsage (periods: UsagePeriod[]): string {
  const total = periods.reduce((sum, { count }) => sum + count, 0)
  return formatTable(['PERIOD START', 'COUNT'], [
    ...periods.map(({ periodStart, count }) => [shortDate(periodStart, '-'), String(count)]),
    ['total', String(total)]
  ])
}

// A change in a few words: `revoked: false -> true`; details as JSON. Every
// event has one or the other.
const changeText = ({ changes, details }: ApiKeyEvent): string => [
  ...Object.entries(changes ?? {}).map(([field, { from, to }]) => `${field}: ${toJson(from, 0)} -> ${toJson(to, 0)}`),
  ...(details === null ? [] : [toJson(details, 0)])
].join('; ')

/** Events newest first, one a line, with their ids for --before. */
export function formatEvents (events: ApiKeyEvent[]): string {
  return formatTable(['ID', 'AT', 'EVENT', 'ACTOR', 'CHANGES'], events.map((event) => [
    String(event.id),
    fullDate(event.at, '-'),
    event.type,
    event.actor ?? '-',
    changeText(event)
  ]))
}

// BigInt columns of a custom model would make JSON.stringify throw.
export function toJson (value: unknown, indent = 2): string {
  return JSON.stringify(value, (_, v) => typeof v === 'bigint' ? v.toString() : v, indent)
}
