import t from 'tap'
import { formatList, formatRecord, formatUsage, toJson } from '../src/cli/format.ts'
import { HELP } from '../src/cli/help.ts'
import { formatPairs, formatTable, printable } from '../src/cli/table.ts'

const record = {
  id: 'k1',
  prefix: 'AbCd1234',
  name: 'billing',
  revoked: false,
  expiresAt: new Date('2027-01-31T00:00:00.000Z'),
  createdAt: new Date('2026-01-15T10:04:59.999Z'),
  lastUsedAt: null,
  scopes: 'orders:read orders:*',
  previousKeyExpiresAt: null
}

t.test('a table aligns columns and cuts long cells', async (t) => {
  t.equal(formatTable(['A', 'BB'], [['xyz', '1'], ['q', '22']]), 'A    BB\nxyz  1\nq    22')
  t.equal(formatTable(['A', 'B'], [['x'.repeat(50), 'y']]), `A${' '.repeat(41)}B\n${'x'.repeat(39)}…  y`)
  t.equal(formatTable(['A', 'B'], []), 'A  B')
})

t.test('control characters from the database never reach the terminal', async (t) => {
  t.equal(printable('ok\u001b]0;pwned\u0007\r\nname\u009b\u007f é 🔑'), 'ok?]0;pwned???name?? é 🔑')
  t.equal(formatTable(['NAME'], [['a\u001b[2Jb']]), 'NAME\na?[2Jb')
  t.equal(formatPairs([['name', 'a\nb'], ['id', '1']]), 'name  a?b\nid    1')
})

t.test('list rows: dates to the minute in UTC, scopes last', async (t) => {
  const many = Array.from({ length: 6 }, (_, i) => `resource${i}:read`).join(' ')
  t.equal(formatList([
    { record, status: 'active' },
    { record: { ...record, name: 'old', revoked: true, expiresAt: null, lastUsedAt: record.createdAt, scopes: '' }, status: 'revoked' },
    { record: { ...record, name: 'wide', scopes: many }, status: 'active' }
  ]), [
    'NAME     PREFIX    STATUS   CREATED            EXPIRES            LAST USED          SCOPES',
    'billing  AbCd1234  active   2026-01-15 10:04Z  2027-01-31 00:00Z  never              orders:read orders:*',
    'old      AbCd1234  revoked  2026-01-15 10:04Z  never              2026-01-15 10:04Z  -',
    `wide     AbCd1234  active   2026-01-15 10:04Z  2027-01-31 00:00Z  never              ${many.slice(0, 39)}…`
  ].join('\n'))
})

t.test('a record: full dates, then the extra columns of a custom model', async (t) => {
  t.equal(formatRecord(record, 'active'), [
    'name       billing',
    'id         k1',
    'prefix     AbCd1234',
    'status     active',
    'created    2026-01-15T10:04:59.999Z',
    'expires    2027-01-31T00:00:00.000Z',
    'last used  never',
    'scopes     orders:read orders:*'
  ].join('\n'))
  const rotated = { ...record, scopes: '', previousKeyExpiresAt: new Date('2026-02-01T00:00:00.000Z') }
  t.same(formatRecord(rotated, 'active').split('\n').slice(7), [
    'scopes            none',
    'old secret until  2026-02-01T00:00:00.000Z'
  ], 'the old secret of a rotation, while it lasts')
  t.same(formatRecord({ ...record, importedFrom: 'drf-api-key' }, 'active').split('\n').slice(7), [
    'scopes         orders:read orders:*',
    'imported from  drf-api-key'
  ], 'where an imported key came from (docs/migrating.md)')
  t.equal(formatRecord({ ...record, importedFrom: null }, 'active'), formatRecord(record, 'active'), 'nothing for a key made here')
  const custom = { ...record, expiresAt: null, orgId: 42n, tags: ['read', 'write'], reviewedAt: new Date(0), note: null }
  t.same(formatRecord(custom, 'active').split('\n').slice(5), [
    'expires     never',
    'last used   never',
    'scopes      orders:read orders:*',
    'orgId       42',
    'tags        ["read","write"]',
    'reviewedAt  1970-01-01T00:00:00.000Z',
    'note        null'
  ])
})

t.test('JSON keeps BigInt columns', async (t) => {
  t.equal(toJson({ a: 1n, b: [2] }, 0), '{"a":"1","b":[2]}')
  t.equal(toJson({ a: 1 }), '{\n  "a": 1\n}')
})

t.test('help pages stay narrow', async (t) => {
  for (const [topic, text] of Object.entries(HELP)) {
    for (const line of text.split('\n')) t.ok(line.length <= 100, `${topic}: ${line}`)
  }
})

t.test('usage: a period a line, to the minute in UTC, then the total', async (t) => {
  t.equal(formatUsage([
    { periodStart: new Date('2026-11-30T23:00:00.000Z'), count: 7 },
    { periodStart: new Date('2026-12-01T00:00:00.000Z'), count: 1234 }
  ]), 'PERIOD START       COUNT\n2026-11-30 23:00Z  7\n2026-12-01 00:00Z  1234\ntotal              1241')
  t.equal(formatUsage([]), 'PERIOD START  COUNT\ntotal         0')
})
