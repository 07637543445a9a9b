import { errors } from './errors.js'
import type { ApiKeyRecord, ApiKeyScope } from './types.js'

// Names are words joined by colons (`orders:read`, `admin.users:write`); stored
// space-separated like OAuth's scope string, so one text column holds them on
// every database.
const NAME = /^[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)*$/
const WILDCARD = /^(?:[A-Za-z0-9_.-]+:)+\*$/
/** Longest stored scope string: it must fit MySQL's VARCHAR(1000). */
const MAX_SCOPES_LENGTH = 1000

/** What a scope name is made of, as errors say it. */
export const SCOPE_NAME_RULE = 'use words of A-Z a-z 0-9 _ . - joined by colons'

export function isScopeName (value: unknown): value is string {
  return typeof value === 'string' && NAME.test(value)
}

function isGrantable (value: unknown): value is string {
  return isScopeName(value) || value === '*' || (typeof value === 'string' && WILDCARD.test(value))
}

/** Validates the scopes given to a key; returns the stored form, or a problem. */
export function serializeScopes (scopes: unknown): { value: string } | { problem: string } {
  if (!Array.isArray(scopes)) return { problem: 'expected an array of scope names such as ["orders:read"]' }
  const bad = scopes.find((scope) => !isGrantable(scope))
  if (bad !== undefined) return { problem: `${JSON.stringify(bad)} is not a scope: ${SCOPE_NAME_RULE}, optionally ending in :*, or *` }
  const value = [...new Set(scopes as string[])].join(' ')
  if (value.length > MAX_SCOPES_LENGTH) return { problem: `at most ${MAX_SCOPES_LENGTH} characters in all` }
  return { value }
}

export function parseScopes (stored: string | null | undefined): string[] {
  return typeof stored === 'string' && stored !== '' ? stored.split(' ') : []
}

function grants (granted: string, required: string): boolean {
  if (granted === required || granted === '*') return true
  return granted.endsWith(':*') && required.startsWith(granted.slice(0, -1))
}

// Records are frozen and shared between requests until their row is re-read,
// so a key's scope string is split once per copy, not once per request.
const parsed = new WeakMap<object, string[]>()

function grantedScopes (apiKey: Pick<ApiKeyRecord, 'scopes'>): string[] {
  let scopes = parsed.get(apiKey)
  if (scopes === undefined) {
    scopes = parseScopes(apiKey.scopes)
    parsed.set(apiKey, scopes)
  }
  return scopes
}

/** The first of `required` the key lacks, or null when it has them all. */
export function missingScope (apiKey: Pick<ApiKeyRecord, 'scopes'>, required: readonly string[]): string | null {
  const granted = grantedScopes(apiKey)
  return required.find((scope) => !granted.some((g) => grants(g, scope))) ?? null
}

/** Whether a key grants one scope (for checks inside a handler). */
export function hasScope (apiKey: Pick<ApiKeyRecord, 'scopes'>, scope: ApiKeyScope): boolean {
  if (typeof apiKey !== 'object' || apiKey === null || typeof apiKey.scopes !== 'string') {
    throw new errors.INVALID_ARGUMENT('apiKey', 'expected a key record such as request.apiKey (with its scopes column)')
  }
  if (!isScopeName(scope)) throw new errors.INVALID_ARGUMENT('scope', 'expected a scope name such as orders:read')
  return missingScope(apiKey, [scope]) === null
}
