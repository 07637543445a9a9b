import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import { constantTimeEqual } from './hash-format.js'

// The `pepper` option (docs/security.md): once scrypt matched a presented key
// against a row's hash, HMAC-SHA256(pepper, hash + key) is stored in the row's
// keyHmac column, and any instance holding the pepper accepts the same key
// against the same hash by recomputing it: a few microseconds instead of a
// scrypt, so a restart does not queue every active key behind the hashing
// threads. Binding to the stored hash voids the HMAC when the hash changes
// (rotation, re-hash); scrypt stays the hash of record.

const PEPPER_BYTES = 32

export const PEPPER_RULE = `expected a secret of at least ${PEPPER_BYTES} bytes from the environment (a string or a Buffer), ` +
  'or an array of them, the current one first and previous ones after it; make one with `openssl rand -base64 32`'

/**
 * The secrets as HMAC keys, current first; null when `value` is not a secret
 * or a non-empty array of them. KeyObjects, not bytes: one printed or logged
 * by mistake shows no key material.
 */
export function pepperKeys (value: unknown): readonly KeyObject[] | null {
  const secrets = Array.isArray(value) ? value : [value]
  if (secrets.length === 0) return null
  const keys: KeyObject[] = []
  for (const secret of secrets) {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret instanceof Uint8Array ? secret : null
    if (bytes === null || bytes.length < PEPPER_BYTES) return null
    keys.push(createSecretKey(bytes))
  }
  return Object.freeze(keys)
}

// A label first, so the HMAC cannot stand for anything else made with the same
// secret; then the hash and the key, which never contain a NUL.
const LABEL = 'fastify-prisma-api-key keyHmac v1\0'

/** What keyHmac holds for `key`, verified against `hashedKey`, under `pepper`. */
export function keyHmac (pepper: KeyObject, hashedKey: string, key: string): string {
  return createHmac('sha256', pepper).update(`${LABEL}${hashedKey}\0${key}`).digest('base64url')
}

/**
 * Which of `peppers` made `stored` for this key and hash: 0 the current one,
 * above 0 a previous one (to be rewritten), -1 none (scrypt decides).
 */
export function matchingPepper (peppers: readonly KeyObject[], hashedKey: string, key: string, stored: string): number {
  const held = Buffer.from(stored)
  return peppers.findIndex((pepper) => constantTimeEqual(Buffer.from(keyHmac(pepper, hashedKey, key)), held))
}
