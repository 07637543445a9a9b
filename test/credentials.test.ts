import t from 'tap'
import { fromCustom, fromHeader } from '../src/credentials.ts'

t.test('reading a key from a header', async (t) => {
  t.same(fromHeader(undefined, 'Api-Key'), { kind: 'none' })
  t.same(fromHeader('', 'Api-Key'), { kind: 'none' })
  t.same(fromHeader('', null), { kind: 'none' })
  t.same(fromHeader('Api-Key abc', 'Api-Key'), { kind: 'key', key: 'abc' })
  t.same(fromHeader('Api-Key  abc', 'Api-Key'), { kind: 'key', key: ' abc' }, 'the extra space stays, and the key parser refuses it')
  t.same(fromHeader('Api-Key', 'Api-Key'), { kind: 'bad' })
  t.same(fromHeader('Api-Key:abc', 'Api-Key'), { kind: 'bad' })
  t.same(fromHeader('Api-Key=abc', 'Api-Key'), { kind: 'bad' })
  t.same(fromHeader('Api-Key\tabc', 'Api-Key'), { kind: 'bad' })
  t.same(fromHeader('Api-Keys abc', 'Api-Key'), { kind: 'none' })
  t.same(fromHeader('Bearer abc', 'Api-Key'), { kind: 'none' })
  t.same(fromHeader('abc', null), { kind: 'key', key: 'abc' })
  // Node joins repeated headers into one string, but the type allows arrays.
  t.same(fromHeader(['a', 'b'], null), { kind: 'bad' })
  t.same(fromHeader(['a', 'b'], 'Api-Key'), { kind: 'bad' })
})

t.test('reading a key with getKey', async (t) => {
  for (const none of [undefined, null, '']) t.same(fromCustom(none), { kind: 'none' })
  t.same(fromCustom('abc'), { kind: 'key', key: 'abc' })
  t.same(fromCustom(['abc']), { kind: 'bad' })
  t.same(fromCustom(42), { kind: 'bad' })
})
