import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createApiKeyManager, DEFAULT_SCRYPT } from '../src/index.ts'
import { constantTimeEqual, formatHash, parseHash, paramsError } from '../src/hash-format.ts'
import { Hasher } from '../src/hasher.ts'
import { openDatabase } from './helpers/databases.ts'
import { wrongSecret } from './helpers/keys.ts'
import { withMethods } from './helpers/models.ts'

t.test('hash strings carry their parameters', async (t) => {
  const salt = Buffer.alloc(16, 1)
  const hash = Buffer.alloc(32, 2)
  const text = formatHash({ ln: 14, r: 8, p: 1 }, salt, hash)
  t.equal(text, `$scrypt$ln=14,r=8,p=1$${salt.toString('base64').replace(/=+$/, '')}$${hash.toString('base64').replace(/=+$/, '')}`)
  t.same(parseHash(text), { ln: 14, r: 8, p: 1, salt, hash })
  for (const bad of ['', 'plain', '$scrypt$ln=14,r=8,p=1$AAAA', '$bcrypt$ln=14,r=8,p=1$AAAA$BBBB', '$scrypt$ln=99,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB']) {
    t.equal(parseHash(bad), null, bad)
  }
  t.equal(parseHash('$scrypt$ln=14,r=8,p=1$AA$BB'), null, 'salt and hash too short to be ours')
})

t.test('parameter bounds', async (t) => {
  t.equal(paramsError(DEFAULT_SCRYPT), null)
  t.match(paramsError({ ln: 9, r: 8, p: 1 }), /ln must be an integer from 10 to 20/)
  t.match(paramsError({ ln: 14, r: 0, p: 1 }), /r must be/)
  t.match(paramsError({ ln: 14, r: 8, p: 1.5 }), /p must be/)
  t.match(paramsError({ ln: 20, r: 8, p: 1 }), /more than 256 MiB/)
})

t.test('the total work N * r * p is bounded, for options and stored hashes alike', async (t) => {
  // Each within its own bounds and the memory cap, together ~1,000 times the default's work.
  t.match(paramsError({ ln: 20, r: 2, p: 16 }), /cost more than N \* r \* p = 2\^22 \(128 times the default\) per check: lower ln, r or p/)
  t.match(paramsError({ ln: 16, r: 8, p: 9 }), /N \* r \* p = 2\^22/)
  t.equal(paramsError({ ln: 16, r: 8, p: 8 }), null, 'exactly 2^22 is allowed')
  const costly = `$scrypt$ln=20,r=2,p=16$${'A'.repeat(22)}$${'B'.repeat(43)}`
  t.equal(parseHash(costly), null, 'a stored hash over the bound is not ours: never run')
})

t.test('constant-time comparison', async (t) => {
  t.equal(constantTimeEqual(Buffer.from('abc'), Buffer.from('abc')), true)
  t.equal(constantTimeEqual(Buffer.from('abc'), Buffer.from('abd')), false)
  t.equal(constantTimeEqual(Buffer.from('abc'), Buffer.from('ab')), false)
})

t.test('the default parameters hash and verify off the main thread', async (t) => {
  const hasher = new Hasher(DEFAULT_SCRYPT, 1)
  t.teardown(() => hasher.close())
  const hashed = await hasher.hash('some key')
  t.match(hashed, /^\$scrypt\$ln=12,r=8,p=1\$/)
  t.not(await hasher.hash('some key'), hashed, 'a new salt each time')
  // The event loop keeps turning while the worker hashes.
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 5)
  t.same(await hasher.verify('some key', hashed), { ok: true, rehash: false })
  clearInterval(timer)
  // At least one: a hash on the event loop's thread would let none run (how
  // many depends on the machine's load, so no more is asked).
  t.ok(ticks >= 1, `the event loop ran ${ticks} timers during one hash`)
  t.same(await hasher.verify('another key', hashed), { ok: false, rehash: false })
  t.same(await hasher.verify('some key', 'not a hash'), { ok: false, rehash: false })
})

t.test('a key hashed with older parameters is re-hashed after it verifies', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const before = createApiKeyManager({ model: db.prisma.apiKey, scrypt: { ln: 10 }, hashThreads: 1 })
  t.teardown(() => before.close())
  const { apiKey, key } = await before.create({ name: 'old params' })
  const stored = async (): Promise<string> => (await db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).hashedKey
  const old = await stored()
  t.match(old, /^\$scrypt\$ln=10,r=8,p=1\$/)

  const after = createApiKeyManager({ model: db.prisma.apiKey, scrypt: { ln: 11, r: 4 }, hashThreads: 1 })
  t.teardown(() => after.close())
  t.equal((await after.verify(wrongSecret(key))).valid, false)
  t.equal(await stored(), old, 'a failed verification changes nothing')
  t.equal((await after.verify(key)).valid, true)
  // The upgrade is written off the request path: wait for it.
  for (let i = 0; i < 100 && (await stored()) === old; i++) await sleep(20)
  const upgraded = await stored()
  t.match(upgraded, /^\$scrypt\$ln=11,r=4,p=1\$/)
  t.equal((await after.verify(key)).valid, true)
  t.equal(await stored(), upgraded, 'hashed once, then left alone')
  t.equal((await before.verify(key)).valid, true, 'the old settings still read the new hash')
})

t.test('the worker function derives scrypt as specified (RFC 7914 test vector)', async (t) => {
  const { default: hash } = await import('../src/hash-worker.js')
  const derived = hash({ key: 'password', salt: new TextEncoder().encode('NaCl'), ln: 10, r: 8, p: 16, dkLen: 64 })
  t.equal(Buffer.from(derived).toString('hex'),
    'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162' +
    '2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640')
})

t.test('a re-hash whose write fails is reported to onBackgroundError, and the key keeps verifying', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const before = createApiKeyManager({ model: db.prisma.apiKey, scrypt: { ln: 10 }, hashThreads: 1 })
  const { key } = await before.create({ name: 'upgrade fails' })
  await before.close()
  const real = db.prisma.apiKey as any
  const model = withMethods(real, { updateMany: async () => { throw new Error('disk I/O error') } })
  const reported = new Promise<unknown>((resolve) => {
    const after = createApiKeyManager({ model, scrypt: { ln: 11 }, hashThreads: 1, lastUsedInterval: 0, onBackgroundError: resolve })
    t.teardown(() => after.close())
    after.verify(key).then((result) => t.equal(result.valid, true, 'verified with the old parameters'), t.error)
  })
  t.match(await reported, { code: 'FST_API_KEY_UNAVAILABLE' }, 'the failed upgrade, reported')
})
