import { badArgument, isPlainObject } from './checks.js'
import type { ApiKeyRecord } from './types.js'

// What happened to a key, as the app hears of it (onEvent) and the audit log
// keeps it (src/audit.ts). Pure: shaping and checking only.

// No 'deleted': the manager never deletes a key (revocation is how a key ends).
export type ApiKeyEventType = 'created' | 'updated' | 'rotated' | 'revoked' | 'disabled' | 'enabled' | 'leaked' | 'idle_revoked' | 'expired' | 'credits_exhausted'

/** A column a change wrote: what it held before and after (Dates as ISO text). */
export interface FieldChange {
  from: unknown
  to: unknown
}

export interface ApiKeyEvent {
  /** The audit log's row id (increasing); null for an event no audit model recorded. */
  id: number | null
  type: ApiKeyEventType
  keyId: string
  prefix: string
  /** Who, as the caller said: the panel passes what its guard identified, the CLI --actor or the OS user; null when nobody said. */
  actor: string | null
  /** The columns the change wrote, each { from, to }; null for an event that wrote none. Never a hash. */
  changes: Record<string, FieldChange> | null
  /** What else is known: a leak's url and source, an idle sweep's cutoff, when credits come back. */
  details: Record<string, unknown> | null
  at: Date
}

/** Who made a change: the manager's mutating methods take it as their last argument. */
export interface ChangeContext {
  /** Up to 191 characters, e.g. the admin's e-mail, 'cli:alice' or a job's name. */
  actor?: string
}

export type EventDraft = Omit<ApiKeyEvent, 'id' | 'at'>

// The audit column is a VARCHAR(191) on MySQL.
const ACTOR_LENGTH = 191

/** The actor of a change context, checked: a short text that holds no key. */
export function actorOf (context: ChangeContext | undefined, secret: RegExp): string | null {
  if (context === undefined) return null
  if (!isPlainObject(context)) badArgument('context', "expected an object such as { actor: 'alice@example.com' }")
  for (const name of Object.keys(context)) if (name !== 'actor') badArgument(name, 'unknown, expected actor')
  const { actor } = context
  if (actor === undefined) return null
  if (typeof actor !== 'string' || actor.trim() === '' || actor.length > ACTOR_LENGTH) badArgument('actor', `expected a non-empty string of at most ${ACTOR_LENGTH} characters`)
  if (secret.test(actor)) badArgument('actor', 'holds an API key: name who acted, never with a key')
  return actor
}

// Columns never told, whatever a change wrote: the secrets' hashes, and what
// the library keeps for itself.
const UNTOLD = new Set(['hashedKey', 'previousHashedKey', 'keyHmac', 'id', 'prefix', 'createdAt', 'lastUsedAt', 'creditsRefilledAt'])

// JSON's view of a value, to compare and to store: a Date is its ISO text.
const plain = (value: unknown): unknown => value instanceof Date ? value.toISOString() : value

/** The columns `written` changed from `before` to `after`; null when none did. */
export function changesOf (written: Iterable<string>, before: object | null, after: object): Record<string, FieldChange> | null {
  const was = before as Record<string, unknown> | null
  const is = after as Record<string, unknown>
  const changes: Record<string, FieldChange> = {}
  for (const field of written) {
    if (UNTOLD.has(field)) continue
    const from = plain(was?.[field] ?? null)
    const to = plain(is[field] ?? null)
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[field] = { from, to }
  }
  return Object.keys(changes).length === 0 ? null : changes
}

/** An update's event: named after the most telling column it changed; null when it changed none. */
export function updateEvent (record: ApiKeyRecord, changes: Record<string, FieldChange> | null, actor: string | null): EventDraft | null {
  if (changes === null) return null
  const type = changes.revoked !== undefined ? 'revoked' : changes.disabled !== undefined ? (changes.disabled.to === true ? 'disabled' : 'enabled') : 'updated'
  return { type, keyId: record.id, prefix: record.prefix, actor, changes, details: null }
}

/** The audit row of an event: changes and details as JSON text. */
export function eventRow (draft: EventDraft): Record<string, unknown> {
  return {
    ...draft,
    changes: draft.changes === null ? null : JSON.stringify(draft.changes),
    details: draft.details === null ? null : JSON.stringify(draft.details)
  }
}

/** An event read back from its audit row. */
export function eventOf (row: Record<string, unknown>): ApiKeyEvent {
  const json = (text: unknown): Record<string, any> | null => typeof text === 'string' ? JSON.parse(text) : null
  return {
    id: row.id as number,
    type: row.type as ApiKeyEventType,
    keyId: row.keyId as string,
    prefix: row.prefix as string,
    actor: row.actor as string | null,
    changes: json(row.changes),
    details: json(row.details),
    at: row.createdAt as Date
  }
}

export interface EventsInput {
  /** Events per page, newest first: 1 to 500 (default 50). */
  take?: number
  /** Only events older than this one (an id from the page before). */
  before?: number
}

export function checkEvents (input: EventsInput): { take: number, before: number | null } {
  if (!isPlainObject(input)) badArgument('input', 'expected an object such as { take: 50 }')
  for (const name of Object.keys(input)) if (name !== 'take' && name !== 'before') badArgument(name, 'unknown, expected take or before')
  const { take = 50, before } = input
  if (!Number.isInteger(take) || take < 1 || take > 500) badArgument('take', 'expected an integer from 1 to 500')
  if (before !== undefined && (!Number.isInteger(before) || before < 1)) badArgument('before', 'expected an event id, a positive integer')
  return { take, before: before ?? null }
}

/** Where a leaked key was found (GitHub's report), and whether to revoke it. */
export interface LeakReport {
  url?: string | null
  source?: string | null
  type?: string | null
  revoke: boolean
}

// A URL can be long; an event is not a place for a page of text.
const LEAK_TEXT = 2048
const LEAK_FIELDS = ['url', 'source', 'type', 'revoke']

export function checkLeak (leak: LeakReport): { url: string | null, source: string | null, type: string | null, revoke: boolean } {
  if (!isPlainObject(leak)) badArgument('leak', "expected an object such as { url: 'https://github.com/...', revoke: true }")
  for (const name of Object.keys(leak)) if (!LEAK_FIELDS.includes(name)) badArgument(name, 'unknown, expected url, source, type or revoke')
  const text = (name: 'url' | 'source' | 'type'): string | null => {
    const value = leak[name] ?? null
    if (value !== null && (typeof value !== 'string' || value.length > LEAK_TEXT)) badArgument(name, `expected a string of at most ${LEAK_TEXT} characters, or null`)
    return value
  }
  if (typeof leak.revoke !== 'boolean') badArgument('revoke', 'expected true (revoke the key) or false (only record the leak)')
  return { url: text('url'), source: text('source'), type: text('type'), revoke: leak.revoke }
}
