// Refill policies (src/refill.ts): when a key's credits are refilled, and to
// what. Pure functions of the policy, the last refill and the clock, so every
// case is a fixed instant: the faked clock of the credits feature.
import t from 'tap'
import { MAX_CREDITS, nextRefill, parseRefill, readRefill, refillDue } from '../src/refill.ts'

const at = (iso: string): number => Date.parse(iso)

t.test('reading a caller\'s policy', async (t) => {
  t.same(readRefill('day:100'), { value: 'day:100' })
  t.same(readRefill(' month:15:5000 '), { value: 'month:15:5000' }, 'trimmed')
  t.same(readRefill('every:3600:10:add'), { value: 'every:3600:10:add' })
  t.same(readRefill('DAY:100:ADD'), { value: 'day:100:add' }, 'case does not matter')
  t.same(readRefill(null), { value: null }, 'null is no refill')
  for (const bad of ['day', 'day:', 'day:0', 'day:-1', 'day:1.5', 'day:1e3', 'week:100', 'month:100', 'month:0:100', 'month:32:100',
    'every:0:10', 'every:10', 'every:31622401:10', 'day:100:more', `day:${MAX_CREDITS + 1}`, 'day:100:add:add', '']) {
    t.match(readRefill(bad), { problem: /expected day:AMOUNT, month:DAY:AMOUNT or every:SECONDS:AMOUNT/ }, JSON.stringify(bad))
  }
  for (const wrong of [100, { amount: 100 }, undefined]) t.match(readRefill(wrong), { problem: /expected a refill policy/ }, String(wrong))
  t.equal(parseRefill('week:100'), null, 'a stored value that does not parse is no policy')
  t.same(parseRefill('month:31:7:add'), { unit: 'month', day: 31, seconds: 0, amount: 7, add: true })
})

t.test('daily: at every UTC midnight', async (t) => {
  const policy = parseRefill('day:100')!
  const anchor = at('2026-12-01T10:00:00Z')
  t.equal(refillDue(policy, anchor, at('2026-12-01T23:59:59.999Z'), 3), null, 'not before midnight')
  t.same(refillDue(policy, anchor, at('2026-12-02T00:00:00Z'), 3), { credits: 100, at: at('2026-12-02T00:00:00Z') }, 'at midnight: replaced')
  t.same(refillDue(policy, anchor, at('2026-12-05T08:00:00Z'), 3), { credits: 100, at: at('2026-12-05T00:00:00Z') }, 'days missed: still the amount')
  t.equal(nextRefill(policy, anchor, at('2026-12-01T10:00:00Z')), at('2026-12-02T00:00:00Z'))
})

t.test('adding instead of replacing', async (t) => {
  const policy = parseRefill('day:100:add')!
  const anchor = at('2026-12-01T10:00:00Z')
  t.same(refillDue(policy, anchor, at('2026-12-02T01:00:00Z'), 3), { credits: 103, at: at('2026-12-02T00:00:00Z') })
  t.same(refillDue(policy, anchor, at('2026-12-05T01:00:00Z'), 3), { credits: 403, at: at('2026-12-05T00:00:00Z') }, 'one amount per refill missed')
  t.same(refillDue(parseRefill('every:1:1000000000:add')!, 0, 10_000, 5), { credits: MAX_CREDITS, at: 10_000 }, 'never past the largest balance')
})

t.test('monthly: on the day chosen, or the month\'s last', async (t) => {
  const policy = parseRefill('month:31:50')!
  const anchor = at('2026-01-31T00:00:00Z')
  t.equal(refillDue(policy, anchor, at('2026-02-27T12:00:00Z'), 0), null)
  t.same(refillDue(policy, anchor, at('2026-02-28T00:00:00Z'), 0), { credits: 50, at: at('2026-02-28T00:00:00Z') }, 'February has no 31st')
  t.equal(nextRefill(policy, at('2026-02-28T00:00:00Z'), at('2026-02-28T00:00:01Z')), at('2026-03-31T00:00:00Z'))
  const fifteenth = parseRefill('month:15:10:add')!
  t.same(refillDue(fifteenth, at('2026-10-20T00:00:00Z'), at('2027-01-16T00:00:00Z'), 1), { credits: 31, at: at('2027-01-15T00:00:00Z') }, 'Nov, Dec, Jan: three refills')
  t.equal(refillDue(fifteenth, at('2026-12-15T00:00:00Z'), at('2026-12-15T00:00:00Z'), 1), null, 'the refill of this very instant is done')
  t.equal(nextRefill(fifteenth, at('2026-12-10T00:00:00Z'), at('2026-12-10T00:00:00Z')), at('2026-12-15T00:00:00Z'))
})

t.test('every so many seconds, from the last refill', async (t) => {
  const policy = parseRefill('every:3600:10')!
  const anchor = at('2026-12-01T10:20:00Z')
  t.equal(refillDue(policy, anchor, at('2026-12-01T11:19:59Z'), 0), null)
  t.same(refillDue(policy, anchor, at('2026-12-01T13:30:00Z'), 0), { credits: 10, at: at('2026-12-01T13:20:00Z') }, 'keeps its rhythm')
  t.equal(nextRefill(policy, anchor, at('2026-12-01T10:50:00Z')), at('2026-12-01T11:20:00Z'))
  t.equal(refillDue(policy, at('2026-12-01T12:00:00Z'), at('2026-12-01T11:00:00Z'), 0), null, 'a last refill in the future (another clock): none due')
})
