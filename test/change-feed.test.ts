import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t from 'tap'
import { ChangeCursor } from '../src/change-cursor.ts'
import { listenForChanges, pollChangeLog, type ChangeHandlers } from '../src/change-feed.ts'
import { errors, type ApiKeyManagerOptions, type ChangeFeedOption } from '../src/index.ts'
import { auth, buildApp, testManager } from './helpers/app.ts'
import { eachDatabase, type TestDatabase } from './helpers/databases.ts'
import { counted, withMethods } from './helpers/models.ts'

t.test('the cursor: contiguous ids move it, a gap holds it until filled or given up', async (t) => {
  const cursor = new ChangeCursor(10, 1000)
  t.same(cursor.take([11, 12], 0), [11, 12])
  t.equal(cursor.at, 12)
  t.same(cursor.take([14, 15], 100), [14, 15], 'past a gap: handled at once')
  t.equal(cursor.at, 12, 'but the cursor waits for 13')
  t.same(cursor.take([14, 15], 500), [], 'read again while waiting, handled once')
  t.same(cursor.take([13, 14, 15, 16], 600), [13, 16], 'the late commit arrives')
  t.equal(cursor.at, 16)
  t.same(cursor.take([18], 700), [18])
  t.same(cursor.take([18, 20], 1200), [20], 'a second gap opens behind the first')
  t.equal(cursor.at, 16)
  t.same(cursor.take([18, 20], 1700), [], 'held for its 1000 ms from 700')
  t.equal(cursor.at, 18, 'given up on 17: the cursor skips to the next id seen, and waits for 19 afresh')
  t.same(cursor.take([20], 2600), [])
  t.equal(cursor.at, 18, '19 waited for from 1700')
  t.same(cursor.take([20], 2700), [])
  t.equal(cursor.at, 20, 'given up on 19')
  t.same(cursor.take([17, 19], 2800), [], 'ids given up on are not handled when they turn up')
})

// Waits for `ok` to hold, trying every 10 ms, up to `limit` ms; returns the time it took.
async function within (limit: number, ok: () => Promise<boolean>): Promise<number> {
  const started = Date.now()
  while (!(await ok())) {
    if (Date.now() - started > limit) return Infinity
    await sleep(10)
  }
  return Date.now() - started
}

function feedOf (db: TestDatabase, connect?: () => pg.Client): ChangeFeedOption {
  if (db.provider !== 'postgresql') return { model: db.prisma.apiKeyChange, pollInterval: 100 }
  return { listen: connect ?? (() => listenClient()) }
}

function listenClient (): pg.Client {
  return new pg.Client({ connectionString: process.env.TEST_POSTGRES_URL })
}

const DEFAULT_FEED_TTL = 60_000

eachDatabase(t, async (t, db) => {
  t.test('a change made elsewhere reaches an instance through the feed, long before its TTL', async (t) => {
    const writer = testManager(db.prisma.apiKey)
    const app = await buildApp(db, { changeFeed: feedOf(db) })
    t.teardown(async () => { await writer.close(); await app.close() })
    const call = async (key: string): Promise<string> => {
      const res = await app.inject({ url: '/protected', headers: auth(key) })
      return res.statusCode === 200 ? 'ok' : res.json().code
    }
    const keys = await Promise.all([1, 2, 3, 4].map(async (i) => await writer.create({ name: `feed ${i}` })))
    for (const { key } of keys) t.equal(await call(key), 'ok', 'warm on the instance')
    const [byManager, bySql, deleted, expired] = keys
    await writer.revoke(byManager.apiKey.id)
    t.ok(await within(5000, async () => await call(byManager.key) === 'FST_API_KEY_REVOKED') < 5000, 'revoked through another manager')
    const table = db.provider === 'mysql' ? '`ApiKey`' : '"ApiKey"'
    await db.query(`UPDATE ${table} SET revoked = true WHERE id = '${bySql.apiKey.id}'`)
    t.ok(await within(5000, async () => await call(bySql.key) === 'FST_API_KEY_REVOKED') < 5000, 'revoked in SQL')
    await db.query(`DELETE FROM ${table} WHERE id = '${deleted.apiKey.id}'`)
    t.ok(await within(5000, async () => await call(deleted.key) === 'FST_API_KEY_INVALID') < 5000, 'deleted in SQL')
    await db.prisma.apiKey.update({ where: { id: expired.apiKey.id }, data: { expiresAt: new Date(Date.now() - 1000) } })
    t.ok(await within(5000, async () => await call(expired.key) === 'FST_API_KEY_EXPIRED') < 5000, 'expired through Prisma')
  })

  t.test('lastUsedAt writes are not changes: no row is read again for them', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { changeFeed: feedOf(db), lastUsedInterval: 0 })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'busy' })
    t.equal((await m.verify(key)).valid, true)
    const reads = (): number => (calls.findUnique ?? 0) + (calls.findMany ?? 0)
    await sleep(300)
    const before = reads()
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { lastUsedAt: new Date() } })
    await sleep(400)
    t.equal((await m.verify(key)).valid, true)
    t.equal(reads(), before, 'no re-read')
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { name: 'renamed' } })
    t.ok(await within(5000, async () => (m.verifyCached(key) as any)?.apiKey?.name === 'renamed' || (await m.verify(key) as any).apiKey.name === 'renamed') < 5000,
      'a rename is read again')
  })

  t.test('the default TTL with a feed is the safety net, a minute', async (t) => {
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { changeFeed: feedOf(db) })
    t.teardown(() => m.close())
    const { key } = await m.create({ name: 'long lived' })
    t.equal((await m.verify(key)).valid, true)
    const base = calls.findUnique
    await sleep(5_200)
    t.equal((await m.verify(key)).valid, true)
    t.equal(calls.findUnique, base, 'not read again after the 5 s a manager without a feed trusts a row')
    t.equal(DEFAULT_FEED_TTL, 60_000)
  })
})

eachDatabase(t, async (t, db) => {
  if (db.provider === 'postgresql') return
  t.test('a failing poll reports the feed broken once, and the first that works again re-reads the cache', async (t) => {
    let failing = false
    const real = db.prisma.apiKeyChange as any
    const log = {
      findFirst: async (args: unknown) => await real.findFirst(args),
      findMany: async (args: unknown) => {
        if (failing) throw new Error('connection reset')
        return await real.findMany(args)
      },
      deleteMany: async (args: unknown) => await real.deleteMany(args)
    }
    const reported: unknown[] = []
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { changeFeed: { model: log, pollInterval: 100 }, onBackgroundError: (err) => reported.push(err) })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'outage' })
    const other = await m.create({ name: 'unchanged' })
    t.equal((await m.verify(key)).valid, true)
    t.equal((await m.verify(other.key)).valid, true)
    failing = true
    await sleep(450)
    t.equal(reported.length, 1, 'reported once, however many polls failed')
    t.ok(reported[0] instanceof errors.FEED_BROKEN)
    t.equal((reported[0] as Error).cause instanceof Error, true, 'with its cause')
    const batched = calls.findMany ?? 0
    // A change the broken feed cannot see; the copy is within its TTL meanwhile.
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { revoked: true } })
    t.equal((await m.verify(key)).valid, true, 'while the feed is down, the TTL rule alone')
    failing = false
    t.ok(await within(3000, async () => !(await m.verify(key)).valid) < 3000, 'back: refused (the log kept the change)')
    t.ok((calls.findMany ?? 0) > batched, 'and the rest of the cache was read again, in batches')
  })

  t.test('log rows every instance has read long since are pruned', async (t) => {
    const m = testManager(db.prisma.apiKey)
    t.teardown(() => m.close())
    // The feed's timers do not hold the process open (an app's server does).
    const open = setInterval(() => {}, 1000)
    t.teardown(() => clearInterval(open))
    for (let i = 0; i < 3; i++) await db.prisma.apiKey.update({ where: { id: (await m.create({ name: `logged ${i}` })).apiKey.id }, data: { name: 'changed' } })
    const handlers: ChangeHandlers = { changed: () => {}, resync: () => {}, broken: (err) => { throw err } }
    const feed = pollChangeLog({ model: db.prisma.apiKeyChange as any, interval: 100, hold: 1000, retention: 1200 }, handlers)
    t.teardown(() => feed.close())
    await feed.ready
    const before = await db.prisma.apiKeyChange.count()
    t.ok(before >= 3)
    const after = await m.create({ name: 'after the start' })
    await db.prisma.apiKey.update({ where: { id: after.apiKey.id }, data: { name: 'changed' } })
    t.ok(await within(5000, async () => await db.prisma.apiKeyChange.count() === 0) < 5000, 'all read a retention ago, and deleted')
  })

  t.test('a poll reads the log page after page', async (t) => {
    const open = setInterval(() => {}, 1000)
    t.teardown(() => clearInterval(open))
    const changed: string[] = []
    const handlers: ChangeHandlers = { changed: (prefix) => changed.push(prefix), resync: () => {}, broken: (err) => { throw err } }
    const feed = pollChangeLog({ model: db.prisma.apiKeyChange as any, interval: 100, hold: 1000, page: 2 }, handlers)
    t.teardown(() => feed.close())
    await feed.ready
    const m = testManager(db.prisma.apiKey)
    t.teardown(() => m.close())
    const made = await Promise.all([1, 2, 3, 4, 5].map(async (i) => await m.create({ name: `paged ${i}` })))
    await db.prisma.apiKey.updateMany({ where: { id: { in: made.map(({ apiKey }) => apiKey.id) } }, data: { name: 'all at once' } })
    const prefixes = made.map(({ apiKey }) => apiKey.prefix).sort()
    t.ok(await within(3000, async () => changed.length >= 5) < 3000)
    t.same([...changed].sort(), prefixes, 'five changes, two a query, each handled once')
  })

  t.test('a change log the migrations did not create stops the app', async (t) => {
    const missing = {
      findFirst: async () => { throw Object.assign(new Error('The table `main.ApiKeyChange` does not exist'), { code: 'P2021' }) },
      findMany: async () => [],
      deleteMany: async () => ({ count: 0 })
    }
    await t.rejects(buildApp(db, { changeFeed: { model: missing } }), { code: 'FST_API_KEY_NOT_MIGRATED' })
  })
})

eachDatabase(t, async (t, db) => {
  if (db.provider !== 'postgresql') return
  t.test('a lost LISTEN connection is made again, and the cache re-read', async (t) => {
    const reported: unknown[] = []
    const clients: pg.Client[] = []
    const connect = (): pg.Client => {
      const client = listenClient()
      clients.push(client)
      return client
    }
    const { model, calls } = counted(db.prisma.apiKey)
    const m = testManager(model, { changeFeed: { listen: connect }, onBackgroundError: (err) => reported.push(err) })
    t.teardown(() => m.close())
    const { apiKey, key } = await m.create({ name: 'reconnect' })
    t.equal((await m.verify(key)).valid, true)
    await sleep(200)
    const pid = (await clients[0].query('SELECT pg_backend_pid() AS pid')).rows[0].pid
    const batched = calls.findMany ?? 0
    await db.query(`SELECT pg_terminate_backend(${Number(pid)})`)
    t.ok(await within(3000, async () => reported.length > 0) < 3000, 'reported')
    t.ok(reported[0] instanceof errors.FEED_BROKEN)
    t.ok(await within(5000, async () => clients.length === 2 && (calls.findMany ?? 0) > batched) < 5000, 'connected again, and the cache re-read')
    await db.query(`UPDATE "ApiKey" SET revoked = true WHERE id = '${apiKey.id}'`)
    t.ok(await within(3000, async () => !(await m.verify(key)).valid) < 3000, 'changes arrive on the new connection')
    t.equal(reported.length, 1)
  })

  t.test('a database without the trigger stops the app', async (t) => {
    // The database as the feed's startup check sees it, with no trigger calling
    // api_key_notify(): the check looks database-wide on purpose (the LISTEN
    // connection's schema need not be the table's), and other test files'
    // schemas in this database have the triggers, so the check's query is
    // answered here instead of dropping triggers for real.
    const connect = (): pg.Client => {
      const client = new pg.Client({ connectionString: process.env.TEST_POSTGRES_URL })
      const query = client.query.bind(client) as (...args: unknown[]) => unknown
      Object.assign(client, { query: (text: unknown, ...rest: unknown[]) => typeof text === 'string' && text.includes('pg_trigger') ? Promise.resolve({ rows: [], rowCount: 0 }) : query(text, ...rest) })
      return client
    }
    await t.rejects(buildApp(db, { changeFeed: { listen: connect } }), { code: 'FST_API_KEY_NOT_MIGRATED' })
  })

  t.test('a database that does not answer at startup: the app starts, the feed keeps trying', async (t) => {
    const reported: unknown[] = []
    const connect = (): pg.Client => new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:1/test' })
    const app = await buildApp(db, { changeFeed: { listen: connect }, onBackgroundError: (err) => reported.push(err) } as Partial<ApiKeyManagerOptions>)
    t.teardown(() => app.close())
    t.ok(reported.length >= 1 && reported[0] instanceof errors.FEED_BROKEN)
  })

  t.test('the listener only takes its channel', async (t) => {
    const changed: string[] = []
    const handlers: ChangeHandlers = { changed: (p) => changed.push(p), resync: () => {}, broken: () => {} }
    const feed = listenForChanges({ connect: () => listenClient(), channel: 'api_key_changes' }, handlers)
    t.teardown(() => feed.close())
    await feed.ready
    await db.query("NOTIFY other_channel, 'x'; NOTIFY api_key_changes, 'mine'; NOTIFY api_key_changes")
    t.ok(await within(3000, async () => changed.includes('mine')) < 3000)
    t.notOk(changed.includes('x'))
  })
})

t.test('changeFeed options are checked at registration', async (t) => {
  const model = { findFirst: async () => null, findMany: async () => [], deleteMany: async () => ({}) }
  const bad: Array<[unknown, RegExp]> = [
    [42, /changeFeed/],
    [{}, /changeFeed/],
    [{ model, listen: () => {} }, /changeFeed/],
    [{ model: {} }, /changeFeed\.model.*findFirst/],
    [{ model, pollInterval: 10 }, /changeFeed\.pollInterval/],
    [{ model, every: 1 }, /changeFeed\.every/],
    [{ listen: 'postgres://' }, /changeFeed\.listen/],
    [{ listen: () => {}, channel: 'Bad Name' }, /changeFeed\.channel/]
  ]
  for (const [changeFeed, message] of bad) {
    t.throws(() => testManager(withMethods({ ...model, create: model.findFirst, findUnique: model.findFirst, count: model.findFirst, update: model.findFirst, updateMany: model.findFirst }), { changeFeed } as any), { code: 'FST_API_KEY_INVALID_OPTION', message }, JSON.stringify(changeFeed))
  }
})

t.test('a LISTEN connection that ends without an error is reported and made again', async (t) => {
  const reported: Error[] = []
  const made: Array<{ end: () => void }> = []
  const connect = (): any => {
    const listeners: Record<string, Array<(arg?: unknown) => void>> = {}
    const client = {
      connect: async () => {},
      query: async () => ({ rows: [{ '?column?': 1 }] }),
      on: (event: string, listener: (arg?: unknown) => void) => { (listeners[event] ??= []).push(listener) },
      end: async () => { for (const listener of listeners.end ?? []) listener() }
    }
    made.push(client)
    return client
  }
  let resyncs = 0
  const feed = listenForChanges({ connect, channel: 'api_key_changes' }, { changed: () => {}, resync: () => { resyncs++ }, broken: (err) => reported.push(err) })
  t.teardown(() => feed.close())
  await feed.ready
  made[0].end()
  t.equal(reported.length, 1)
  t.match(reported[0].cause, { message: 'the LISTEN connection ended' })
  t.ok(await within(3000, async () => made.length === 2 && resyncs === 2) < 3000, 'connected and resynced again')
})
