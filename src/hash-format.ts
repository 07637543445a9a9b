import { timingSafeEqual } from 'node:crypto'

export interface ScryptParams {
  /** log2 of scrypt's cost N */
  ln: number
  r: number
  p: number
}

export interface ParsedHash extends ScryptParams {
  salt: Buffer
  hash: Buffer
}

export const SALT_BYTES = 16
export const HASH_BYTES = 32

// The bounds keep a typo from turning every verification into seconds of work
// or gigabytes of memory (memory per hash in flight is 128 * r * 2^ln bytes).
const PARAM_BOUNDS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const
const MAX_MEMORY = 256 * 1024 * 1024
// The work of one check grows with N * r * p. Bounded one by one, the three
// still allow ~1,000 times the default's work ({ ln: 20, r: 2, p: 16 }); 2^22
// is 128 times the default (2^15), about 2 s per check on a 2-core test
// machine, and past anything a key of 190 random bits needs.
const MAX_WORK = 2 ** 22

export function paramsError (params: ScryptParams): string | null {
  for (const name of ['ln', 'r', 'p'] as const) {
    const [min, max] = PARAM_BOUNDS[name]
    const value = params[name]
    if (!Number.isInteger(value) || value < min || value > max) {
      return `scrypt.${name} must be an integer from ${min} to ${max}`
    }
  }
  if (128 * params.r * 2 ** params.ln > MAX_MEMORY) {
    return 'scrypt parameters need more than 256 MiB per hash (128 * r * 2^ln bytes): lower ln or r'
  }
  if (2 ** params.ln * params.r * params.p > MAX_WORK) {
    return 'scrypt parameters cost more than N * r * p = 2^22 (128 times the default) per check: lower ln, r or p'
  }
  return null
}

function b64 (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '')
}

// PHC-style string: every parameter needed to check the hash travels with it,
// so the defaults can change without breaking stored keys.
export function formatHash (params: ScryptParams, salt: Uint8Array, hash: Uint8Array): string {
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`
}

const HASH_PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{1,88})\$([A-Za-z0-9+/]{1,88})$/

export function parseHash (stored: string): ParsedHash | null {
  const m = HASH_PATTERN.exec(stored)
  if (m === null) return null
  const parsed = {
    ln: Number(m[1]),
    r: Number(m[2]),
    p: Number(m[3]),
    salt: Buffer.from(m[4], 'base64'),
    hash: Buffer.from(m[5], 'base64')
  }
  // Shorter salts or hashes are not ours: refuse rather than verify weakly.
  if (parsed.salt.length < 8 || parsed.hash.length < 16) return null
  return paramsError(parsed) === null ? parsed : null
}

export function sameParams (a: ScryptParams, b: ScryptParams): boolean {
  return a.ln === b.ln && a.r === b.r && a.p === b.p
}

export function constantTimeEqual (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}
