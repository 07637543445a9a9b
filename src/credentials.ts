import type { FastifyRequest } from 'fastify'

/** A custom key parser: return the presented key, or null/undefined when there is none. */
export type GetKey = (request: FastifyRequest) => string | null | undefined

// What the request presented: nothing, something unusable, or a candidate key
// (still to be parsed and checked by the manager).
export type Presented = { kind: 'none' } | { kind: 'bad' } | { kind: 'key', key: string }

const NONE: Presented = Object.freeze({ kind: 'none' })
const BAD: Presented = Object.freeze({ kind: 'bad' })

// With a keyword, only `<keyword> <key>` (exact case, one space) is a key.
// Another scheme (`Bearer ...`) is someone else's credential: no key was
// presented, so an optional route or an @fastify/auth alternative can go on.
// `Api-Key:<key>` or `Api-Key  <key>` is an attempt at ours gone wrong: bad.
export function fromHeader (value: string | string[] | undefined, keyword: string | null): Presented {
  if (value === undefined || value === '') return NONE
  // A repeated header is ambiguous: refuse rather than pick one.
  if (typeof value !== 'string') return BAD
  if (keyword === null) return { kind: 'key', key: value }
  if (!value.startsWith(keyword)) return NONE
  if (value.length === keyword.length) return BAD
  if (value[keyword.length] !== ' ') {
    return /[\s:=]/.test(value[keyword.length]) ? BAD : NONE
  }
  return { kind: 'key', key: value.slice(keyword.length + 1) }
}

export function fromCustom (value: unknown): Presented {
  if (value === undefined || value === null || value === '') return NONE
  return typeof value === 'string' ? { kind: 'key', key: value } : BAD
}
