import type { ImportInput } from '../manager-input.js'
import { CliError } from './failure.js'

// The old key table as exported (docs/migrating.md): CSV with a header row
// (RFC 4180) or a JSON array of objects, with drf-api-key's column names.
// Pure: text in, rows out. A reason never quotes a field: one holds the hash.

export type ImportFormat = 'csv' | 'json'

/** Where a row is: the line its CSV record starts on, or its place in the JSON array (from 1). */
export type RowPlace = { line: number } | { entry: number }

/** What importKey takes from a row: all but `from`, which the command gives. */
type RowInput = Pick<ImportInput, 'prefix' | 'hashedKey' | 'name' | 'revoked' | 'expiresAt' | 'createdAt'>

export interface ImportRow {
  at: RowPlace
  prefix: string | null
  /** what importKey takes, but `from`; absent when the row could not be read */
  input?: RowInput
  problem?: string
}

const REQUIRED = ['prefix', 'hashed_key', 'name'] as const

/** By the file's extension, else by its first character: JSON starts with `[`. */
export function formatOf (path: string, text: string): ImportFormat {
  const extension = /\.(csv|json)$/i.exec(path)?.[1].toLowerCase()
  if (extension === 'csv' || extension === 'json') return extension
  return text.trimStart().startsWith('[') ? 'json' : 'csv'
}

export function readImportFile (text: string, format: ImportFormat): ImportRow[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text
  return format === 'json' ? fromJson(body) : fromCsv(body)
}

function fromJson (text: string): ImportRow[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // JSON.parse's message quotes the text around the error: a hash, maybe.
    throw new CliError('The file is not valid JSON')
  }
  if (!Array.isArray(parsed)) throw new CliError('The file is not a JSON array of keys')
  return parsed.map((value, i) => {
    const at = { entry: i + 1 }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { at, prefix: null, problem: `expected an object with ${REQUIRED.join(', ').replace(/, (\w+)$/, ' and $1')}` }
    }
    return toRow(at, value as Record<string, unknown>)
  })
}

function fromCsv (text: string): ImportRow[] {
  const [header, ...records] = csvRecords(text)
  const columns = header?.fields ?? []
  for (const name of REQUIRED) {
    if (!columns.includes(name)) throw new CliError(`The file has no ${name} column: expected a header row with prefix, hashed_key and name`)
  }
  return records.map(({ line, fields }) => {
    const at = { line }
    const record = Object.fromEntries(columns.map((name, i) => [name, fields[i]]))
    if (fields.length !== columns.length) {
      return { at, prefix: prefixOf(record), problem: `expected ${columns.length} fields, found ${fields.length}` }
    }
    return toRow(at, record)
  })
}

/** RFC 4180 records, each with the line it starts on; a last line break ends the last record, not a new one. */
function csvRecords (text: string): Array<{ line: number, fields: string[] }> {
  const records: Array<{ line: number, fields: string[] }> = []
  let line = 1
  let i = 0
  while (i < text.length) {
    const start = line
    const fields: string[] = []
    for (;;) {
      let field = ''
      if (text[i] === '"') {
        i++
        for (;;) {
          if (i >= text.length) throw new CliError(`Line ${start}: a quoted field is never closed`)
          if (text[i] === '"') {
            if (text[i + 1] !== '"') break
            i++
          }
          if (text[i] === '\n') line++
          field += text[i++]
        }
        i++
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') throw new CliError(`Line ${start}: a quote inside an unquoted field`)
          field += text[i++]
        }
      }
      fields.push(field)
      if (text[i] !== ',') break
      i++
    }
    if (text[i] === '\r') i++
    if (text[i] === '\n') i++
    line++
    records.push({ line: start, fields })
  }
  return records
}

// The ways PostgreSQL (t, f), MySQL and SQLite (1, 0) and JSON spell a boolean.
const BOOLEANS = new Map<unknown, boolean>([[true, true], [false, false], [1, true], [0, false], ['true', true], ['false', false], ['t', true], ['f', false], ['1', true], ['0', false]])

// ISO 8601 as the databases write it: a space or T, fractions to the
// microsecond and beyond, a zone as Z, +00, +0530 or +05:30, or none (UTC:
// what Django stores with USE_TZ on MySQL and SQLite).
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(:\d{2})?(?:\.(\d+))?)?\s*(?:Z|([+-]\d{2}):?(\d{2})?)?$/i

function timestamp (text: string): Date | null {
  const m = TIMESTAMP.exec(text)
  if (m === null) return null
  const [, day, time = '00:00', seconds = ':00', fraction = '', hours, minutes = '00'] = m
  const zone = hours === undefined ? 'Z' : `${hours}:${minutes}`
  const date = new Date(`${day}T${time}${seconds}.${fraction.padEnd(3, '0').slice(0, 3)}${zone}`)
  // Date rolls 2024-02-30 over to March 1: a day that does not exist is refused.
  if (Number.isNaN(date.getTime()) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) return null
  return date
}

// What an export writes for NULL: nothing (CSV), null (JSON).
const empty = (value: unknown): boolean => value === undefined || value === null || value === ''

// A row's columns, checked one by one: a problem names the column and what it should hold.
const prefixOf = (record: Record<string, unknown>): string | null => typeof record.prefix === 'string' && record.prefix !== '' ? record.prefix : null

function toRow (at: RowPlace, record: Record<string, unknown>): ImportRow {
  const prefix = prefixOf(record)
  const refuse = (problem: string): ImportRow => ({ at, prefix, problem })
  if (prefix === null) return refuse(empty(record.prefix) ? 'prefix: missing' : 'prefix: expected text')
  for (const name of ['hashed_key', 'name'] as const) {
    if (typeof record[name] !== 'string') return refuse(`${name}: expected text`)
  }
  const { revoked: flag, expiry_date: expiry, created } = record
  const revoked = empty(flag) ? false : BOOLEANS.get(typeof flag === 'string' ? flag.toLowerCase() : flag)
  if (revoked === undefined) return refuse('revoked: expected true, false, t, f, 1 or 0')
  const expiresAt = empty(expiry) ? null : timestamp(String(expiry))
  if (expiresAt === null && !empty(expiry)) return refuse('expiry_date: expected an ISO 8601 date and time, or nothing')
  const input: RowInput = { prefix, hashedKey: record.hashed_key as string, name: record.name as string, revoked, expiresAt }
  if (empty(created)) return { at, prefix, input }
  const createdAt = timestamp(String(created))
  if (createdAt === null) return refuse('created: expected an ISO 8601 date and time')
  return { at, prefix, input: { ...input, createdAt } }
}
