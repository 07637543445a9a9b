import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { errors } from './errors.js'

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
export const PREFIX_LENGTH = 8
// 32 base62 characters carry 32 * log2(62) = 190.5 bits.
export const SECRET_LENGTH = 32
// A CRC-32 fits in 6 base62 characters (62^6 > 2^32).
export const CHECKSUM_LENGTH = 6
const BRAND_PATTERN = /^[A-Za-z0-9_-]{1,32}$/
export const BRAND_RULE = 'use 1 to 32 characters from A-Z, a-z, 0-9, _ and -, or nothing'

/** A brand: nothing, or 1 to 32 characters from A-Z, a-z, 0-9, _ and -. */
export function isBrand (brand: unknown): brand is string {
  return typeof brand === 'string' && (brand === '' || BRAND_PATTERN.test(brand))
}

export interface ParsedKey {
  prefix: string
  key: string
}

// Rejection sampling keeps every character uniform: 248 = 4 * 62 is the largest
// multiple of 62 below 256, so bytes >= 248 are dropped rather than biasing.
export function randomBase62 (length: number): string {
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62]
      if (out.length === length) break
    }
  }
  return out
}

function checksum (body: string): string {
  let n = crc32(body)
  let out = ''
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out
    n = Math.floor(n / 62)
  }
  return out
}

/** Appends the checksum to `<brand><prefix>.<secret>`. */
export function withChecksum (body: string): string {
  return body + checksum(body)
}

/** A new key; with `prefix`, a new secret for an existing key (rotation). */
export function generateKey (brand: string, prefix = randomBase62(PREFIX_LENGTH)): ParsedKey {
  return { prefix, key: withChecksum(`${brand}${prefix}.${randomBase62(SECRET_LENGTH)}`) }
}

export function keyLength (brand: string): number {
  return brand.length + PREFIX_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH
}

// BRAND_PATTERN admits no character that is special in a regular expression.
const keyShape = (brand: string): string => `${brand}[0-9A-Za-z]{${PREFIX_LENGTH}}\\.[0-9A-Za-z]{${SECRET_LENGTH + CHECKSUM_LENGTH}}`

/**
 * A regular expression matching exactly the keys a brand's manager issues:
 * for secret scanners, log filters and pre-commit hooks.
 * @example
 * keyPattern('acme_').test(text) // true when text is an acme_ key
 */
export function keyPattern (brand: string = ''): RegExp {
  if (!isBrand(brand)) throw new errors.INVALID_ARGUMENT('brand', `the brand option's value: ${BRAND_RULE}`)
  return new RegExp(`^${keyShape(brand)}$`)
}

/** A key of this brand anywhere inside a text (for refusing keys pasted into other fields). */
export function keyInText (brand: string): RegExp {
  return new RegExp(keyShape(brand))
}

// Cheap structural checks first (length, brand, alphabet, checksum): a made-up
// or mistyped key costs no database query and no hash.
export function parseKey (input: string, brand: string, pattern: RegExp): ParsedKey | null {
  if (input.length !== keyLength(brand) || !pattern.test(input)) return null
  const split = input.length - CHECKSUM_LENGTH
  if (checksum(input.slice(0, split)) !== input.slice(split)) return null
  return { prefix: input.slice(brand.length, brand.length + PREFIX_LENGTH), key: input }
}

// An imported key's format (docs/migrating.md): drf-api-key's
// `<prefix 8>.<secret 32>`, or another system's prefix and secret around the
// first dot. Only read for a row imported with that prefix (src/verifier.ts).
const LOOSE = /^([A-Za-z0-9_-]{1,64})\.([\x21-\x7e]{8,128})$/

/** `<prefix>.<secret>` of an imported key; null when the input is not one. */
export function parseLooseKey (input: string): ParsedKey | null {
  const m = LOOSE.exec(input)
  return m === null ? null : { prefix: m[1], key: input }
}

/** The prefixes importKey takes: those parseLooseKey reads. */
export const IMPORTED_PREFIX = /^[A-Za-z0-9_-]{1,64}$/
