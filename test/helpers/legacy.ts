// Keys and hashes of the systems keys are imported from, made by each
// scheme's own published definition with node:crypto (never the library's code).
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto'

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const alphanumeric = (length: number): string => [...randomBytes(length)].map((byte) => ALPHANUMERIC[byte % 62]).join('')

/** drf-api-key's KeyGenerator: `${prefix}.${secret}`, 8 and 32 alphanumeric characters. */
export function drfKey (): { prefix: string, key: string } {
  const prefix = alphanumeric(8)
  return { prefix, key: `${prefix}.${alphanumeric(32)}` }
}

/** drf-api-key >= 3.0 (Sha512ApiKeyHasher): 'sha512$$' + hex(sha512(utf-8 key)), of the full key. */
export const drfSha512 = (key: string): string => `sha512$$${createHash('sha512').update(key, 'utf8').digest('hex')}`

/** Django's PBKDF2PasswordHasher: pbkdf2_sha256$<iterations>$<salt>$<standard base64 of the 32-byte PBKDF2-HMAC-SHA256>. */
export const djangoPbkdf2 = (key: string, salt: string, iterations: number): string =>
  `pbkdf2_sha256$${iterations}$${salt}$${pbkdf2Sync(key, salt, iterations, 32, 'sha256').toString('base64')}`

/** SHA-256 of the key, as services store it. */
export const sha256 = (key: string, encoding: 'hex' | 'base64url'): string => createHash('sha256').update(key, 'utf8').digest(encoding)
