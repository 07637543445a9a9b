import { createHash, pbkdf2, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

// The hashes of systems keys are imported from (docs/migrating.md), read-only:
// recognised and verified, never made. A key that matches one is re-hashed
// with scrypt on its first use (src/verifier.ts).

export type LegacyHash =
  /** djangorestframework-api-key >= 3.0: sha512$$<hex of SHA-512(key)> */
  | { scheme: 'sha512', digest: Buffer }
  /** Django's PBKDF2PasswordHasher (drf-api-key before 3.0): pbkdf2_sha256$<iterations>$<salt>$<base64> */
  | { scheme: 'pbkdf2_sha256', iterations: number, salt: string, digest: Buffer }
  /** SHA-256 of the key, as 64 lower-case hex digits or 43 base64url characters */
  | { scheme: 'sha256', digest: Buffer }

// A stored count past this would make one check take many seconds of a
// thread: refused rather than run (Django 5.2 uses 1,000,000).
const MAX_ITERATIONS = 10_000_000

const SHA512 = /^sha512\$\$([0-9a-f]{128})$/
// Django's salts are drawn from letters and digits; no '$', which separates the fields.
const PBKDF2 = /^pbkdf2_sha256\$([1-9]\d{0,7})\$([\x21-\x23\x25-\x7e]{1,128})\$([A-Za-z0-9+/]{43}=)$/
const HEX = /^[0-9a-f]{64}$/
const BASE64URL = /^[A-Za-z0-9_-]{43}$/

const pbkdf2Async = promisify(pbkdf2)

export function parseLegacyHash (stored: string): LegacyHash | null {
  let m = SHA512.exec(stored)
  if (m !== null) return { scheme: 'sha512', digest: Buffer.from(m[1], 'hex') }
  m = PBKDF2.exec(stored)
  if (m !== null) {
    const iterations = Number(m[1])
    const digest = Buffer.from(m[3], 'base64')
    // Only the canonical spelling of 32 bytes (what Django writes).
    if (iterations > MAX_ITERATIONS || digest.toString('base64') !== m[3]) return null
    return { scheme: 'pbkdf2_sha256', iterations, salt: m[2], digest }
  }
  if (HEX.test(stored)) return { scheme: 'sha256', digest: Buffer.from(stored, 'hex') }
  if (BASE64URL.test(stored)) {
    const digest = Buffer.from(stored, 'base64url')
    if (digest.toString('base64url') === stored) return { scheme: 'sha256', digest }
  }
  return null
}

/**
 * Whether `key` is the key behind a legacy hash. PBKDF2 runs on libuv's
 * thread pool (node:crypto's async pbkdf2), never on the event loop; the
 * SHA digests take microseconds. The comparison is constant-time.
 */
export async function verifyLegacyHash (key: string, hash: LegacyHash): Promise<boolean> {
  const derived = hash.scheme === 'pbkdf2_sha256'
    ? await pbkdf2Async(key, hash.salt, hash.iterations, hash.digest.length, 'sha256')
    : createHash(hash.scheme).update(key, 'utf8').digest()
  return derived.length === hash.digest.length && timingSafeEqual(derived, hash.digest)
}
