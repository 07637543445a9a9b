import t from 'tap'
import { keyPattern } from '../src/index.ts'
import { CHECKSUM_LENGTH, generateKey, keyLength, parseKey, PREFIX_LENGTH, randomBase62, SECRET_LENGTH, withChecksum } from '../src/key-format.ts'

t.test('a generated key matches the published pattern and parses back', async (t) => {
  for (const brand of ['', 'acme_', 'x-1']) {
    const pattern = keyPattern(brand)
    const { prefix, key } = generateKey(brand)
    t.equal(key.length, keyLength(brand))
    t.match(key, pattern)
    t.ok(key.startsWith(`${brand}${prefix}.`))
    t.same(parseKey(key, brand, pattern), { prefix, key })
  }
  t.equal(keyPattern('').source, '^[0-9A-Za-z]{8}\\.[0-9A-Za-z]{38}$', 'the regular expression in the README')
  t.equal(keyPattern('acme_').source, '^acme_[0-9A-Za-z]{8}\\.[0-9A-Za-z]{38}$')
})

t.test('the secret carries at least 190 bits', async (t) => {
  t.ok(SECRET_LENGTH * Math.log2(62) >= 190)
  t.equal(PREFIX_LENGTH, 8)
  t.equal(CHECKSUM_LENGTH, 6)
})

t.test('random base62 is uniform enough and never repeats', async (t) => {
  const counts = new Map<string, number>()
  const seen = new Set<string>()
  for (let i = 0; i < 2000; i++) {
    const s = randomBase62(31)
    t.equal(s.length, 31)
    seen.add(s)
    for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1)
  }
  t.equal(seen.size, 2000)
  t.equal(counts.size, 62, 'every character occurs')
  // 62,000 draws: each character ~1000 times; a bias of the modulo kind would
  // put the first 8 characters ~25% above the rest.
  for (const [c, n] of counts) t.ok(n > 800 && n < 1200, `${c} drawn ${n} times`)
})

t.test('made-up and mistyped keys are rejected before any lookup', async (t) => {
  const pattern = keyPattern('')
  const { key } = generateKey('')
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1)
  for (let i = 0; i < key.length; i++) {
    if (key[i] === '.') continue
    t.equal(parseKey(flip(key, i), '', pattern), null, `character ${i} changed`)
  }
  t.equal(parseKey(`${key.slice(0, 8)}${key.slice(9)}.`, '', pattern), null, 'dot moved')
  t.equal(parseKey(key + 'a', '', pattern), null, 'too long')
  t.equal(parseKey('', '', pattern), null)
  t.equal(parseKey('x'.repeat(100_000), '', pattern), null)
  const branded = generateKey('acme_')
  t.equal(parseKey(branded.key, '', pattern), null, 'a branded key is not a plain one')
  t.equal(parseKey(branded.key.slice(5), 'acme_', keyPattern('acme_')), null)
  t.equal(parseKey(`acme-${branded.key.slice(5)}`, 'acme_', keyPattern('acme_')), null, 'another brand')
  t.equal(parseKey(withChecksum(`${'é'.repeat(8)}.${'a'.repeat(32)}`), '', pattern), null, 'outside the alphabet')
})
