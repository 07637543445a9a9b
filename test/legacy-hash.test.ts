// The hash formats of the systems keys are imported from (docs/migrating.md),
// checked against hashes made here by each scheme's published definition
// (node:crypto, never the library's code), and against published test vectors.
import { createHash, randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import t from 'tap'
import { parseLegacyHash, verifyLegacyHash } from '../src/legacy-hash.ts'
import { djangoPbkdf2, drfKey as drf, drfSha512, sha256 } from './helpers/legacy.ts'

const drfKey = (): string => drf().key

async function check (t: Test, key: string, stored: string): Promise<boolean> {
  const parsed = parseLegacyHash(stored)
  t.not(parsed, null, `${stored.slice(0, 16)}… is recognised`)
  return parsed !== null && await verifyLegacyHash(key, parsed)
}

t.test('published test vectors', async (t) => {
  // FIPS 180-2's "abc".
  t.ok(await check(t, 'abc', 'sha512$$ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f'))
  t.ok(await check(t, 'abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'))
  t.ok(await check(t, 'abc', Buffer.from('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'hex').toString('base64url')))
  // PBKDF2-HMAC-SHA256, P = "password", S = "salt", c = 4096, dkLen = 32 (RFC 7914's companion vectors).
  const dk = Buffer.from('c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a', 'hex').toString('base64')
  t.ok(await check(t, 'password', `pbkdf2_sha256$4096$salt$${dk}`))
  t.notOk(await check(t, 'passwore', `pbkdf2_sha256$4096$salt$${dk}`))
})

t.test('drf-api-key sha512 hashes of the full key', async (t) => {
  const key = drfKey()
  t.ok(await check(t, key, drfSha512(key)))
  t.notOk(await check(t, key.split('.')[1], drfSha512(key)), 'the secret alone is not the key')
  t.notOk(await check(t, `${key}x`, drfSha512(key)))
  t.ok(await check(t, 'clé.ünïcødé', drfSha512('clé.ünïcødé')), 'utf-8, as Python encodes')
  t.same(parseLegacyHash(drfSha512(key)), { scheme: 'sha512', digest: createHash('sha512').update(key).digest() })
})

t.test('Django pbkdf2_sha256 hashes (drf-api-key before 3.0)', async (t) => {
  const key = drfKey()
  const stored = djangoPbkdf2(key, 'Zb4VwhJ8aLq2nD1xKp9rTs', 1000)
  t.ok(await check(t, key, stored))
  t.notOk(await check(t, `${key.slice(0, -1)}${key.endsWith('Q') ? 'R' : 'Q'}`, stored))
  t.match(parseLegacyHash(stored), { scheme: 'pbkdf2_sha256', iterations: 1000, salt: 'Zb4VwhJ8aLq2nD1xKp9rTs' })
  // Django 5.2's default count; a 12-character salt, as Django before 3.1 drew.
  t.ok(await check(t, key, djangoPbkdf2(key, 'a1B2c3D4e5F6', 1_000_000)))
})

t.test('SHA-256 of the key, hex or base64url', async (t) => {
  const key = `sk_live_${randomBytes(24).toString('hex')}`
  t.ok(await check(t, key, sha256(key, 'hex')))
  t.ok(await check(t, key, sha256(key, 'base64url')))
  t.notOk(await check(t, `${key}0`, sha256(key, 'hex')))
  t.notOk(await check(t, `${key}0`, sha256(key, 'base64url')))
})

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

t.test('anything else is not a legacy hash', async (t) => {
  const key = drfKey()
  const hex = sha256(key, 'hex')
  const b64 = sha256(key, 'base64url')
  const pbkdf2 = djangoPbkdf2(key, 'salt', 10)
  for (const stored of [
    '', 'plain', '$scrypt$ln=12,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
    hex.toUpperCase(), hex.slice(1), `${hex}0`, `${b64.slice(0, 42)}-=`, `${b64}=`, b64.slice(1),
    // 43 base64url characters whose last one carries bits past the 32 bytes: not canonical.
    `${b64.slice(0, 42)}${BASE64URL[BASE64URL.indexOf(b64.at(-1) as string) + 1]}`,
    drfSha512(key).toUpperCase(), drfSha512(key).slice(0, -1), drfSha512(key).replace('$$', '$'),
    pbkdf2.replace('$10$', '$0$'), pbkdf2.replace('$10$', '$10000001$'), pbkdf2.replace('$10$', '$010$'), pbkdf2.replace('$10$', '$1e3$'),
    pbkdf2.replace('$salt$', '$$'), pbkdf2.replace(/=$/, ''), pbkdf2.slice(0, -4) + '====',
    pbkdf2.replace('pbkdf2_sha256', 'pbkdf2_sha1'), 'argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA', `bcrypt_sha256$$2b$12$${'a'.repeat(53)}`
  ]) {
    t.equal(parseLegacyHash(stored), null, stored)
  }
})

t.test('PBKDF2 runs off the event loop', async (t) => {
  const key = drfKey()
  const stored = djangoPbkdf2(key, 'salt', 300_000)
  const parsed = parseLegacyHash(stored)
  if (parsed === null) return t.fail('recognised')
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 1)
  t.ok(await verifyLegacyHash(key, parsed))
  clearInterval(timer)
  t.ok(ticks >= 1, `the event loop ran ${ticks} timers during one PBKDF2`)
})
