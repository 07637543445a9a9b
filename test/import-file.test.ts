// The CLI's import reads the old key table as exported (docs/migrating.md):
// CSV (RFC 4180) or JSON, in each database's spelling of booleans and times.
import t from 'tap'
import { formatOf, readImportFile } from '../src/cli/import-file.ts'

const HEADER = 'id,prefix,hashed_key,name,revoked,expiry_date,created'
// drf-api-key's columns, then these records, one a line.
const csv = (records: string[], eol = '\n'): ReturnType<typeof readImportFile> => readImportFile([HEADER, ...records].join(eol), 'csv')

t.test('CSV, quoted per RFC 4180, each row with the line it starts on', async (t) => {
  const rows = csv([
    'AbCd1234.sha512$$aa,AbCd1234,sha512$$aa,billing,f,,2024-03-01 10:00:00.123456+00',
    'EfGh5678.x,EfGh5678,x,"with, comma and ""quotes""",t,2030-01-01T00:00:00Z,2024-03-02 11:00:00',
    'IjKl9012.x,IjKl9012,x,"two',
    'lines",1,2030-01-01 12:30:00.5+05:30,2024-03-03T00:00:00.000Z',
    ''
  ], '\r\n')
  t.same(rows, [
    { at: { line: 2 }, prefix: 'AbCd1234', input: { prefix: 'AbCd1234', hashedKey: 'sha512$$aa', name: 'billing', revoked: false, expiresAt: null, createdAt: new Date('2024-03-01T10:00:00.123Z') } },
    { at: { line: 3 }, prefix: 'EfGh5678', input: { prefix: 'EfGh5678', hashedKey: 'x', name: 'with, comma and "quotes"', revoked: true, expiresAt: new Date('2030-01-01T00:00:00Z'), createdAt: new Date('2024-03-02T11:00:00Z') } },
    { at: { line: 4 }, prefix: 'IjKl9012', input: { prefix: 'IjKl9012', hashedKey: 'x', name: 'two\r\nlines', revoked: true, expiresAt: new Date('2030-01-01T07:00:00.500Z'), createdAt: new Date('2024-03-03T00:00:00Z') } }
  ])
})

t.test('columns in any order, others ignored, a byte order mark skipped', async (t) => {
  const rows = readImportFile('\uFEFFname,prefix,hashed_key,organization_id\nn,p1,h,7\n', 'csv')
  t.same(rows, [{ at: { line: 2 }, prefix: 'p1', input: { prefix: 'p1', hashedKey: 'h', name: 'n', revoked: false, expiresAt: null } }])
})

t.test('a row that cannot be read is refused by itself, without quoting its hash', async (t) => {
  const rows = csv([
    'a.h,a,SECRET-HASH,n,maybe,,2024-01-01',
    'b.h,b,SECRET-HASH,n,0,next week,2024-01-01',
    'c.h,c,SECRET-HASH,n,0,,2024-02-30',
    'd.h,d,SECRET-HASH,n,0,',
    'e.h,,SECRET-HASH,n,0,,',
    'f.h,,SECRET-HASH'
  ])
  t.same(rows.map((row) => [row.at, row.prefix, row.problem]), [
    [{ line: 2 }, 'a', 'revoked: expected true, false, t, f, 1 or 0'],
    [{ line: 3 }, 'b', 'expiry_date: expected an ISO 8601 date and time, or nothing'],
    [{ line: 4 }, 'c', 'created: expected an ISO 8601 date and time'],
    [{ line: 5 }, 'd', 'expected 7 fields, found 6'],
    [{ line: 6 }, null, 'prefix: missing'],
    [{ line: 7 }, null, 'expected 7 fields, found 3']
  ])
  t.notOk(JSON.stringify(rows.map((row) => row.problem)).includes('SECRET'), 'no hash in a reason')
})

t.test('what makes the whole file unreadable', async (t) => {
  t.throws(() => readImportFile('prefix,name\np,n\n', 'csv'), { message: 'The file has no hashed_key column: expected a header row with prefix, hashed_key and name' })
  t.throws(() => readImportFile('', 'csv'), { message: /no prefix column/ })
  t.throws(() => readImportFile(`${HEADER}\n"a,b\n`, 'csv'), { message: 'Line 2: a quoted field is never closed' })
  t.throws(() => readImportFile(`${HEADER}\na"b,c\n`, 'csv'), { message: 'Line 2: a quote inside an unquoted field' })
  t.throws(() => readImportFile('[{"hashed_key": "sha512$$SECRET"', 'json'), { message: 'The file is not valid JSON' })
  t.throws(() => readImportFile('{"prefix": "a"}', 'json'), { message: 'The file is not a JSON array of keys' })
})

t.test('JSON: an array of objects, numbered by entry', async (t) => {
  const text = JSON.stringify([
    { id: 'a.h', prefix: 'a', hashed_key: 'h', name: 'n', revoked: true, expiry_date: null, created: '2024-03-01T10:00:00.000Z' },
    // MySQL's JSON_OBJECT: booleans as 1 and 0, times without a zone (UTC).
    { prefix: 'b', hashed_key: 'h', name: 'm', revoked: 0, expiry_date: '2030-01-01 00:00:00.000000', created: '2024-03-01 10:00:00.000000' },
    'not an object',
    { prefix: 'c', hashed_key: 7, name: 'n' },
    { prefix: 5, hashed_key: 'h', name: 'n' }
  ])
  const rows = readImportFile(text, 'json')
  t.same(rows, [
    { at: { entry: 1 }, prefix: 'a', input: { prefix: 'a', hashedKey: 'h', name: 'n', revoked: true, expiresAt: null, createdAt: new Date('2024-03-01T10:00:00Z') } },
    { at: { entry: 2 }, prefix: 'b', input: { prefix: 'b', hashedKey: 'h', name: 'm', revoked: false, expiresAt: new Date('2030-01-01T00:00:00Z'), createdAt: new Date('2024-03-01T10:00:00Z') } },
    { at: { entry: 3 }, prefix: null, problem: 'expected an object with prefix, hashed_key and name' },
    { at: { entry: 4 }, prefix: 'c', problem: 'hashed_key: expected text' },
    { at: { entry: 5 }, prefix: null, problem: 'prefix: expected text' }
  ])
})

t.test('the format, by the file name or else its first character', async (t) => {
  t.equal(formatOf('keys.json', 'prefix,x'), 'json')
  t.equal(formatOf('keys.CSV', '[]'), 'csv')
  t.equal(formatOf('export.txt', '  \n[{"prefix": "a"}]'), 'json')
  t.equal(formatOf('-', 'prefix,hashed_key,name'), 'csv')
})
