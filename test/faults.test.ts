// The database goes away while the plugin is serving: PostgreSQL and MariaDB
// behind a TCP proxy that resets every connection, SQLite with its file
// overwritten (test/helpers/outage.ts says why that and not chmod). Through
// all of it a request gets 200 or 503, never a 401 (a working key refused) or
// a 500, and nothing is written twice or lost.
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import apiKeyPlugin from '../src/index.ts'
import { auth, buildApp, FAST_SCRYPT, testManager } from './helpers/app.ts'
import { openDatabase, PROVIDERS, skipReason } from './helpers/databases.ts'
import { unknownKey, wrongSecret } from './helpers/keys.ts'
import { withMethods } from './helpers/models.ts'
import { openOutageDatabase, type OutageDatabase } from './helpers/outage.ts'

// Short, so that the window in which a cached key outlives the outage can be watched end to end.
const TTL = 300
const RECOVERY_LIMIT = 15_000
const UNAVAILABLE = '503 FST_API_KEY_UNAVAILABLE'

interface Answer {
  outcome: string
  retryAfter: string | undefined
}

async function call (app: FastifyInstance, key: string): Promise<Answer> {
  const res = await app.inject({ url: '/protected', headers: auth(key) })
  const outcome = res.statusCode === 200 ? '200' : `${res.statusCode} ${res.json().code as string}`
  return { outcome, retryAfter: res.headers['retry-after'] as string | undefined }
}

function tally (outcomes: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1
  return counts
}

/**
 * After restore(), nothing but time: the database must answer again (an
 * unknown key needs a query every time, as nothing caches a miss, so its 401
 * shows it) and `key` must pass, with only 503s before.
 */
async function resumes (t: Test, app: FastifyInstance, key: string): Promise<void> {
  const started = Date.now()
  const meanwhile: string[] = []
  let answers: string[] = []
  while (Date.now() - started < RECOVERY_LIMIT) {
    answers = [(await call(app, unknownKey())).outcome, (await call(app, key)).outcome]
    if (answers[0] === '401 FST_API_KEY_INVALID' && answers[1] === '200') break
    meanwhile.push(...answers)
    await sleep(50)
  }
  t.same(answers, ['401 FST_API_KEY_INVALID', '200'], `service resumed by itself ${Date.now() - started} ms after restore`)
  t.same(meanwhile.filter((o) => o !== UNAVAILABLE && o !== '200'), [], 'only 503s (or the cached key\'s 200) while it came back')
}

/** Collects background errors (failed lastUsedAt flushes) through the option; `first` resolves with the first one. */
function backgroundErrors (): { errors: unknown[], first: Promise<unknown>, onBackgroundError: (err: unknown) => void } {
  const errors: unknown[] = []
  let notify: (err: unknown) => void = () => {}
  const first = new Promise<unknown>((resolve) => { notify = resolve })
  return {
    errors,
    first,
    onBackgroundError: (err) => {
      errors.push(err)
      notify(err)
    }
  }
}

async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  const timer = new AbortController()
  const timeout = sleep(ms, undefined, { signal: timer.signal }).then(() => { throw new Error(`${what}: nothing after ${ms} ms`) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    // The timer must not hold the process open once the race is decided.
    timer.abort()
    timeout.catch(() => {})
  }
}

async function lastUsedAt (target: OutageDatabase, id: string): Promise<Date | null> {
  return (await target.direct.apiKey.findUniqueOrThrow({ where: { id } })).lastUsedAt
}

function outageSuite (t: Test, target: OutageDatabase): void {
  // Every subtest restores the database on its way out, passed or failed, so the next one starts healthy.
  async function app (t: Test, options: Parameters<typeof buildApp>[1] = {}): Promise<FastifyInstance> {
    const built = await buildApp(target.db, { cacheTtl: TTL, ...options })
    t.teardown(async () => {
      target.restore()
      await built.close()
    })
    return built
  }

  t.test('keys this instance has not checked yet: 503 with Retry-After during the cut, never 401 or 500', async (t) => {
    const a = await app(t)
    const { key } = await a.apiKeys.create({ name: 'created before the outage' })
    target.cut()
    const presented = {
      'an unknown key': unknownKey(),
      'a key created before the outage, never checked here': key,
      'a wrong secret for that key': wrongSecret(key)
    }
    for (const [what, presentedKey] of Object.entries(presented)) {
      const answer = await call(a, presentedKey)
      t.equal(answer.outcome, UNAVAILABLE, what)
      t.equal(answer.retryAfter, '1', `${what}: Retry-After`)
    }
    t.equal((await call(a, 'not-a-key')).outcome, '401 FST_API_KEY_MALFORMED', 'a malformed key needs no database: still a 401')
    target.restore()
    await resumes(t, a, key)
    t.equal((await call(a, unknownKey())).outcome, '401 FST_API_KEY_INVALID', 'once back, an unknown key is a 401 again')
  })

  t.test(`a key checked before the cut passes only within cacheTtl (${TTL} ms), then gets 503`, async (t) => {
    const a = await app(t)
    const { key } = await a.apiKeys.create({ name: 'cached' })
    t.equal((await call(a, key)).outcome, '200')
    const cutAt = Date.now()
    target.cut()
    // The row was read before cutAt, so a request that starts later than
    // cutAt + TTL has no fresh copy to pass on.
    const answers: Array<{ at: number, outcome: string, retryAfter: string | undefined }> = []
    while (answers.filter((answer) => answer.at > TTL).length < 3) {
      const at = Date.now() - cutAt
      answers.push({ at, ...(await call(a, key)) })
      await sleep(20)
    }
    const late = answers.filter((answer) => answer.at > TTL)
    t.equal(answers[0].outcome, '200', 'right after the cut, the cached row still serves')
    t.same(answers.filter((answer) => answer.outcome !== '200' && answer.outcome !== UNAVAILABLE), [], 'nothing but 200 or 503')
    t.same(late.filter((answer) => answer.outcome !== UNAVAILABLE), [], 'every request started after cacheTtl: 503, neither 200 nor 401')
    t.ok(late.every((answer) => answer.retryAfter === '1'), 'with Retry-After')
    const lastPass = Math.max(...answers.filter((answer) => answer.outcome === '200').map((answer) => answer.at))
    t.comment(`last 200 at ${lastPass} ms after the cut; ${answers.length} requests: ${JSON.stringify(tally(answers.map((answer) => answer.outcome)))}`)
    target.restore()
    await resumes(t, a, key)
  })

  t.test('requests in flight when the database goes end as 200 or 503, and every key works after restore', async (t) => {
    const a = await app(t, { hashThreads: 2 })
    const created = await Promise.all(Array.from({ length: 30 }, async (_, i) => await a.apiKeys.create({ name: `in flight ${i}` })))
    const warm = created[0].key
    t.equal((await call(a, warm)).outcome, '200')
    // Keys this instance has never read (each needs a query and a hash),
    // mixed with checks of a cached one, started a millisecond apart so that
    // the cut finds them at every stage: queued, querying, hashing, answering.
    const flying: Array<Promise<Answer>> = []
    for (const [i, { key }] of created.entries()) {
      if (i === 20) target.cut()
      flying.push(call(a, key), call(a, warm))
      await sleep(1)
    }
    const outcomes = (await Promise.all(flying)).map((answer) => answer.outcome)
    t.same(outcomes.filter((o) => o !== '200' && o !== UNAVAILABLE), [], 'nothing but 200 or 503')
    t.comment(`${outcomes.length} requests around the cut: ${JSON.stringify(tally(outcomes))}`)
    target.restore()
    await resumes(t, a, created[1].key)
    const after = await Promise.all(created.map(async ({ key }) => (await call(a, key)).outcome))
    t.same(tally(after), { 200: created.length }, 'no key was lost')
  })

  t.test('creates during the cut fail with a code or are written once, and every returned key works', async (t) => {
    const a = await app(t)
    const { key: before } = await a.apiKeys.create({ name: 'before the creates' })
    const names = Array.from({ length: 40 }, (_, i) => `created around the cut ${i}`)
    // Each create hashes on the one thread, then inserts: cut once a few are
    // done, so the cut finds the rest hashing, inserting, or about to.
    const progress = { done: 0 }
    const racing = names.map(async (name) => {
      const result = await a.apiKeys.create({ name })
      progress.done++
      return result
    })
    while (progress.done < 5) await sleep(1)
    target.cut()
    const duringNames = Array.from({ length: 5 }, (_, i) => `created during the cut ${i}`)
    const during = duringNames.map(async (name) => await a.apiKeys.create({ name }))
    const settled = await Promise.allSettled([...racing, ...during])
    target.restore()
    await resumes(t, a, before)

    const allNames = [...names, ...duringNames]
    const rows = await Promise.all(allNames.map(async (name) => await target.direct.apiKey.count({ where: { name } })))
    const problems: string[] = []
    let committedButRefused = 0
    for (const [i, result] of settled.entries()) {
      const name = allNames[i]
      if (rows[i] > 1) problems.push(`${name}: ${rows[i]} rows`)
      if (result.status === 'fulfilled') {
        if (rows[i] !== 1) problems.push(`${name}: returned but not stored`)
        const outcome = (await call(a, result.value.key)).outcome
        if (outcome !== '200') problems.push(`${name}: its key gets ${outcome}`)
      } else {
        const { code, statusCode } = result.reason as { code?: string, statusCode?: number }
        if (code !== 'FST_API_KEY_UNAVAILABLE' || statusCode !== 503) problems.push(`${name}: refused with ${String(code)} ${String(statusCode)}: ${String(result.reason)}`)
        // The insert committed but its answer was lost with the connection:
        // a row whose secret nobody holds, so no one can use it.
        if (rows[i] === 1) committedButRefused++
      }
    }
    t.same(problems, [], 'each create: one stored row and a working key, or a 503 FST_API_KEY_UNAVAILABLE and no usable key')
    const created = settled.filter((result) => result.status === 'fulfilled').length
    t.ok(created >= 5, `${created} created`)
    t.ok(settled.slice(names.length).every((result) => result.status === 'rejected'), 'every create started during the cut failed')
    t.comment(`${created} created, ${settled.length - created} refused (${committedButRefused} of them committed before the answer was lost)`)
  })

  const lose = target.cutOnAnswerTo
  t.test('a create whose insert reached the server but whose answer was lost fails with a code, and leaves at most one row', lose === null
    ? { skip: 'SQLite runs in the process: there is no connection whose answer could be lost' }
    : {}, async (t) => {
    if (lose === null) return
    const a = await app(t)
    const { key: before } = await a.apiKeys.create({ name: 'before the lost answer' })
    lose('INSERT INTO')
    const error = await a.apiKeys.create({ name: 'answer lost' }).then(() => null, (err) => err)
    t.match(error, { code: 'FST_API_KEY_UNAVAILABLE', statusCode: 503, prefix: /^[0-9A-Za-z]{8}$/ }, 'a coded error that names the prefix it tried')
    target.restore()
    await resumes(t, a, before)
    const rows = await target.direct.apiKey.count({ where: { name: 'answer lost' } })
    t.ok(rows <= 1, 'not written twice')
    t.equal(await target.direct.apiKey.count({ where: { prefix: error.prefix } }), rows, 'the row, if any, is found by that prefix (to revoke it)')
    // One row: the insert committed before the connection died. Its secret
    // went nowhere, so it can never be used; a caller that retries gets a
    // second key under the same name.
    t.comment(rows === 1 ? 'the insert had committed: one row whose secret nobody holds' : 'the insert was rolled back: no row')
  })

  t.test('lastUsedAt marks survive failed flushes during the outage and are written after restore', async (t) => {
    const background = backgroundErrors()
    const a = await app(t, { lastUsedInterval: 100, onBackgroundError: background.onBackgroundError })
    const { apiKey, key } = await a.apiKeys.create({ name: 'used before the outage' })
    const used = Date.now()
    t.equal((await call(a, key)).outcome, '200')
    // The mark's flush is due 100 ms after the use: the database is gone by then.
    target.cut()
    t.match(await within(5000, 'a failed flush', background.first), { code: 'FST_API_KEY_UNAVAILABLE' }, 'the flush failed and was reported')
    await sleep(250)
    target.restore()
    let written: Date | null = null
    const restored = Date.now()
    while (written === null && Date.now() - restored < RECOVERY_LIMIT) {
      written = await lastUsedAt(target, apiKey.id).catch(() => null)
      if (written === null) await sleep(50)
    }
    t.ok(written !== null && written.getTime() >= used - 1000, `written ${Date.now() - restored} ms after restore`)
    t.ok(background.errors.length >= 1, `${background.errors.length} failed flushes before that`)
    // The column holds the time of the write that succeeded, not of the use.
    t.comment(`lastUsedAt is ${(written?.getTime() ?? used) - used} ms later than the use`)
  })

  t.test('lastUsedAt marks kept through a failed flush are written by fastify.close()', async (t) => {
    // 60 s: the mark is due at the first timer (after 1 s), and never again before close().
    const background = backgroundErrors()
    const a = await app(t, { lastUsedInterval: 60_000, onBackgroundError: background.onBackgroundError })
    const { apiKey, key } = await a.apiKeys.create({ name: 'flushed on close' })
    const used = Date.now()
    t.equal((await call(a, key)).outcome, '200')
    target.cut()
    // Wait for the timer's flush to fail: closing while it is still failing
    // would be another test (see the one below).
    t.match(await within(5000, 'a failed flush', background.first), { code: 'FST_API_KEY_UNAVAILABLE' })
    target.restore()
    await a.close()
    const written = await lastUsedAt(target, apiKey.id)
    t.ok(written !== null && written.getTime() >= used - 1000, 'written on close')
  })

  t.test('fastify.close() during the outage does not hang, and says what it could not write', async (t) => {
    const lines: string[] = []
    const logs = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
    const a = Fastify({ logger: { level: 'error', stream: logs } })
    await a.register(apiKeyPlugin, { model: target.db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, lastUsedInterval: 60_000 })
    a.get('/protected', { config: { apiKey: true } }, async () => ({ ok: true }))
    t.teardown(async () => {
      target.restore()
      await a.close()
    })
    const { apiKey, key } = await a.apiKeys.create({ name: 'closed during the outage' })
    t.equal((await call(a, key)).outcome, '200')
    target.cut()
    const started = Date.now()
    await within(10_000, 'close', a.close())
    t.comment(`closed in ${Date.now() - started} ms`)
    t.ok(lines.some((line) => line.includes('the last lastUsedAt flush failed')), 'the lost mark is logged, not dropped silently')
    target.restore()
    t.equal(await lastUsedAt(target, apiKey.id), null, 'and indeed not written')
  })
}

for (const provider of PROVIDERS) {
  const skip = skipReason(provider)
  t.test(provider, skip === null ? {} : { skip }, async (t) => {
    const target = await openOutageDatabase(provider)
    t.teardown(() => target.close())
    t.comment(`fault: ${target.fault}`)
    outageSuite(t, target)
  })
}

t.test('a close() that lands while a flush is failing still writes the marks once the store answers', async (t) => {
  // The store fails once, slowly, then works: close() starts while the
  // failing flush is still waiting, as when an app shuts down during a blip.
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const real = db.prisma.apiKey as any
  let failures = 1
  const model = withMethods(real, {
    updateMany: async (args: unknown) => {
      await sleep(50)
      if (failures-- > 0) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })
      return await real.updateMany(args)
    }
  })
  const m = testManager(model, { lastUsedInterval: 60_000 })
  const { apiKey, key } = await m.create({ name: 'closed during a blip' })
  t.equal((await m.verify(key)).valid, true)
  const flushing = m.flush()
  const closing = m.close()
  await t.rejects(flushing, { code: 'FST_API_KEY_UNAVAILABLE' }, 'the first flush failed')
  await t.resolves(closing, 'close() tried again rather than pass on that failure')
  t.not((await real.findUniqueOrThrow({ where: { id: apiKey.id } })).lastUsedAt, null, 'the mark was written')
})
