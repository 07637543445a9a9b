// Events and the audit log: every change to a key tells what changed and who
// did it, to onEvent and, in the same transaction, to the audit model; on
// every database.
import t from 'tap'
import Fastify from 'fastify'
import apiKeyPlugin, { createApiKeyManager, type ApiKeyEvent } from '../src/index.ts'
import { FAST_SCRYPT, testManager } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'
import { DAY, HOUR } from './helpers/time.ts'

// What a test asserts about an event: the audit row's id and time vary.
const shape = ({ type, actor, changes, details }: ApiKeyEvent): object => ({ type, actor, changes, details })

eachDatabase(t, async (t, db) => {
  const { prisma } = db
  const model = prisma.apiKey
  const audit = { model: prisma.apiKeyEvent }

  t.test('each change is recorded with who made it and what it changed, and heard once committed', async (t) => {
    const heard: ApiKeyEvent[] = []
    // docs/events.md: the audit log
    const manager = createApiKeyManager({
      model: prisma.apiKey,
      audit: { model: prisma.apiKeyEvent },
      onEvent: (event) => { heard.push(event) },
      suspension: true
    })
    t.teardown(() => manager.close())
    const { apiKey, key } = await manager.create({ name: 'billing', scopes: ['invoices:read'], expiresAt: new Date('2030-01-01T00:00:00Z') }, { actor: 'alice@example.com' })
    await manager.update(apiKey.id, { name: 'billing-service' }, { actor: 'alice@example.com' })
    await manager.update(apiKey.id, { name: 'billing-service' }, { actor: 'alice@example.com' })
    const { key: rotated } = await manager.rotate(apiKey.id, { gracePeriod: HOUR }, { actor: 'deploy-bot' })
    await manager.disable(apiKey.id)
    await manager.enable(apiKey.id, { actor: 'bob' })
    await manager.revoke(apiKey.id, { actor: 'bob' })

    const events = await manager.events(apiKey.id)
    t.same(events.map((event) => event.type), ['revoked', 'enabled', 'disabled', 'rotated', 'updated', 'created'], 'newest first; the update that changed nothing left no event')
    const [revoked, enabled, disabled, rotation, renamed, created] = events
    t.same(shape(created), {
      type: 'created',
      actor: 'alice@example.com',
      changes: { name: { from: null, to: 'billing' }, scopes: { from: null, to: 'invoices:read' }, expiresAt: { from: null, to: '2030-01-01T00:00:00.000Z' } },
      details: null
    }, 'what the key was created with')
    t.same(shape(renamed), { type: 'updated', actor: 'alice@example.com', changes: { name: { from: 'billing', to: 'billing-service' } }, details: null })
    t.equal(rotation.actor, 'deploy-bot')
    t.equal(rotation.changes, null, 'a rotation tells no hash')
    t.equal(rotation.details?.gracePeriod, HOUR)
    t.ok(Math.abs(Date.parse(rotation.details?.previousKeyExpiresAt as string) - Date.now() - HOUR) < 60_000, 'when the old secret stops working')
    t.same(shape(disabled), { type: 'disabled', actor: null, changes: { disabled: { from: false, to: true } }, details: null }, 'no actor given: null')
    t.same(shape(enabled), { type: 'enabled', actor: 'bob', changes: { disabled: { from: true, to: false } }, details: null })
    t.same(shape(revoked), { type: 'revoked', actor: 'bob', changes: { revoked: { from: false, to: true } }, details: null })
    for (const event of events) {
      t.equal(event.keyId, apiKey.id)
      t.equal(event.prefix, apiKey.prefix)
      t.ok(event.at instanceof Date && Date.now() - event.at.getTime() < 60_000, 'when')
    }
    t.ok(events.every((event, i) => i === 0 || (event.id as number) < (events[i - 1].id as number)), 'ids increase with time')
    // docs/events.md: paging
    const page = await manager.events(apiKey.id, { take: 2 })
    const next = await manager.events(apiKey.id, { take: 2, before: page[1].id as number })
    t.same([...page, ...next].map((event) => event.type), ['revoked', 'enabled', 'disabled', 'rotated'], 'the next page starts where the last ended')

    t.same(heard.map((event) => event.id), [...events].reverse().map((event) => event.id), 'onEvent heard each, in order, with its audit id')
    const told = JSON.stringify([events, heard, await prisma.apiKeyEvent.findMany({ where: { keyId: apiKey.id } })])
    for (const secret of [key, rotated, key.slice(key.indexOf('.') + 1, -6), '$scrypt$']) t.notOk(told.includes(secret), 'no key, secret or hash in any event')

    const older = await manager.events(apiKey.id, { take: 2, before: events[1].id as number })
    t.same(older.map((event) => event.type), ['disabled', 'rotated'], 'a page before an id')
  })

  t.test('the change and its event land together or not at all', async (t) => {
    const manager = testManager(model, { audit })
    t.teardown(() => manager.close())
    const { apiKey } = await manager.create({ name: 'atomic' })
    await t.rejects(manager.update('no-such-id', { name: 'x' }), { code: 'FST_API_KEY_NOT_FOUND' })
    await t.rejects(manager.update(apiKey.id, { noSuchColumn: 'x' }), { code: 'FST_API_KEY_QUERY_REFUSED' }, "the store's own error, as without an audit log")
    t.equal(await prisma.apiKeyEvent.count({ where: { keyId: 'no-such-id' } }), 0, 'a change that failed recorded nothing')

    // An audit table that cannot take the event: the revocation is rolled back.
    const table = db.provider === 'mysql' ? '`ApiKeyEvent`' : '"ApiKeyEvent"'
    await db.query(`ALTER TABLE ${table} RENAME TO ${db.provider === 'mysql' ? '`ApiKeyEventGone`' : '"ApiKeyEventGone"'}`)
    t.teardown(async () => { await db.query(`ALTER TABLE ${db.provider === 'mysql' ? '`ApiKeyEventGone`' : '"ApiKeyEventGone"'} RENAME TO ${table}`) })
    await t.rejects(manager.revoke(apiKey.id), { code: 'FST_API_KEY_UNAVAILABLE' })
    t.equal((await manager.get(apiKey.id))?.revoked, false, 'not revoked: its event could not be written')
    await t.rejects(manager.events(apiKey.id), { code: 'FST_API_KEY_UNAVAILABLE' }, 'nor can the log be read')
    await prisma.apiKey.update({ where: { id: apiKey.id }, data: { expiresAt: new Date(Date.now() - 1000) } })
    await t.rejects(manager.recordExpired(), { code: 'FST_API_KEY_UNAVAILABLE' }, 'nor expiries be recorded')
    const created = manager.create({ name: 'not created' })
    await t.rejects(created, { code: 'FST_API_KEY_UNAVAILABLE' })
    const { prefix } = await created.then(() => ({ prefix: 'created' }), (err: { prefix: string }) => err)
    t.equal(await prisma.apiKey.count({ where: { prefix } }), 0, 'nor a key created without its event')
  })

  t.test('revokeIdle, a reported leak and credits running out are events too', async (t) => {
    const { onEvent, next } = listener()
    const manager = testManager(model, { audit, credits: true, onEvent })
    t.teardown(() => manager.close())
    const { apiKey: idle } = await manager.create({ name: 'idle' })
    await prisma.apiKey.update({ where: { id: idle.id }, data: { createdAt: new Date(Date.now() - 100 * DAY) } })
    await manager.revokeIdle({ unusedFor: 90 * DAY }, { actor: 'cron:sweep' })
    const [swept] = await manager.events(idle.id)
    t.same(shape(swept), { type: 'idle_revoked', actor: 'cron:sweep', changes: { revoked: { from: false, to: true } }, details: { unusedSince: swept.details?.unusedSince } })
    t.ok(Math.abs(Date.parse(swept.details?.unusedSince as string) - (Date.now() - 90 * DAY)) < 60_000, 'the cutoff')

    const { apiKey: leaked } = await manager.create({ name: 'leaked' })
    const report = { url: 'https://github.com/acme/app/blob/main/.env', source: 'content', type: 'acme_api_key' }
    const first = await manager.reportLeak(leaked.id, { ...report, revoke: true }, { actor: 'github-secret-scanning' })
    t.equal(first.revoked, true)
    t.equal(first.apiKey.revoked, true)
    const again = await manager.reportLeak(leaked.id, { ...report, revoke: true })
    t.equal(again.revoked, false, 'found again: already revoked')
    const [second, firstEvent] = await manager.events(leaked.id)
    t.same(shape(firstEvent), { type: 'leaked', actor: 'github-secret-scanning', changes: { revoked: { from: false, to: true } }, details: report }, 'the revocation and the leak in one event')
    t.same(shape(second), { type: 'leaked', actor: null, changes: null, details: report })
    const { apiKey: reported } = await manager.create({ name: 'reported' })
    t.equal((await manager.reportLeak(reported.id, { revoke: false })).apiKey.revoked, false, "action 'report': only recorded")
    t.same((await manager.events(reported.id)).map(shape)[0], { type: 'leaked', actor: null, changes: null, details: { url: null, source: null, type: null } })
    await t.rejects(manager.reportLeak('no-such-id', { revoke: true }), { code: 'FST_API_KEY_NOT_FOUND' })

    const { apiKey: limited } = await manager.create({ name: 'limited', credits: 1, creditRefill: 'day:1' })
    t.same(await manager.spend(limited), { paid: true })
    const exhausted = next('credits_exhausted')
    t.equal((await manager.spend(limited)).paid, false)
    t.equal((await manager.spend(limited)).paid, false)
    await exhausted
    const [out] = await manager.events(limited.id)
    t.equal(out.type, 'credits_exhausted')
    t.ok((out.details?.retryAfter as number) > 0 && (out.details?.retryAfter as number) <= 86_400, 'when they come back')
    t.equal((await manager.events(limited.id)).filter((event) => event.type === 'credits_exhausted').length, 1, 'told once until it pays again')
  })

  t.test('recordExpired: a job records each expiry once, for keys not revoked', async (t) => {
    const { onEvent, heard } = listener()
    const manager = testManager(model, { audit, onEvent })
    t.teardown(() => manager.close())
    const past = new Date(Date.now() - DAY)
    const { apiKey: ended } = await manager.create({ name: 'expired' })
    await manager.update(ended.id, { expiresAt: past })
    const { apiKey: revoked } = await manager.create({ name: 'revoked, then expired' })
    await manager.update(revoked.id, { expiresAt: past })
    await manager.revoke(revoked.id)
    const { apiKey: alive } = await manager.create({ name: 'alive', expiresAt: new Date(Date.now() + DAY) })
    const mine = (records: Array<{ id: string }>): string[] => records.map((record) => record.id).filter((id) => [ended.id, revoked.id, alive.id].includes(id))

    const dry = await manager.recordExpired({ dryRun: true })
    t.same(mine(dry.expired), [ended.id], 'only the expired key that was not revoked')
    t.equal((await manager.events(ended.id))[0].type, 'updated', 'a dry run records nothing')
    // docs/events.md: expiries
    const { expired } = await manager.recordExpired({}, { actor: 'cron:expiries' })
    t.same(mine(expired), [ended.id])
    const [event] = await manager.events(ended.id)
    t.same(shape(event), { type: 'expired', actor: 'cron:expiries', changes: null, details: { expiresAt: past.toISOString() } })
    t.match(heard.filter((e) => e.keyId === ended.id).at(-1), { type: 'expired', id: event.id }, 'heard too')
    t.same(mine((await manager.recordExpired()).expired), [], 'recorded once: a second run finds nothing new')
    t.notOk((await manager.events(alive.id)).some((e) => e.type === 'expired'))
    await t.rejects(manager.recordExpired({ dry: true } as never), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /dry: unknown, expected dryRun/ })
    await t.rejects(manager.recordExpired({ dryRun: 'yes' } as never), { message: /dryRun: expected true or false/ })
    await t.rejects(manager.recordExpired(null as never), { message: /input/ })
    const unaudited = testManager(model)
    t.teardown(() => unaudited.close())
    await t.rejects(unaudited.recordExpired(), { code: 'FST_API_KEY_FEATURE_OFF', message: /audit: \{ model: prisma\.apiKeyEvent \}/ }, 'without the audit log it cannot know what it recorded')
  })

  t.test('without an audit model, onEvent still hears every change', async (t) => {
    const heard: ApiKeyEvent[] = []
    const failures: unknown[] = []
    const manager = testManager(model, {
      onEvent: (event) => {
        heard.push(event)
        if (event.type === 'revoked') throw new Error('listener broke')
      },
      onBackgroundError: (err) => { failures.push(err) }
    })
    t.teardown(() => manager.close())
    const { apiKey } = await manager.create({ name: 'heard' })
    await manager.revoke(apiKey.id)
    t.same(heard.map((event) => [event.type, event.id]), [['created', null], ['revoked', null]], 'no audit row: no id')
    t.equal(heard[0].changes?.hashedKey, undefined, 'what was created, less its hash')
    t.match(failures, [{ message: 'listener broke' }], "a listener's failure goes to onBackgroundError")
    await manager.update(apiKey.id, { name: 'heard again' }, {})
    t.equal((await manager.get(apiKey.id))?.revoked, true, 'and the change stands')
    await t.rejects(manager.events(apiKey.id), { code: 'FST_API_KEY_FEATURE_OFF', message: /audit: \{ model: prisma\.apiKeyEvent \}/ })
    const spender = listener()
    const counting = testManager(model, { credits: true, onEvent: spender.onEvent })
    t.teardown(() => counting.close())
    const { apiKey: limited } = await counting.create({ name: 'limited', credits: 0 })
    t.same(await counting.spend(limited), { paid: false, retryAfter: null })
    t.same(spender.heard.map((event) => [event.type, event.id, event.details]), [['created', null, null], ['credits_exhausted', null, { retryAfter: null }]], 'heard at once: there is no row to write')
    const quiet = testManager(model, { onEvent: async () => { throw new Error('async listener broke') }, onBackgroundError: (err) => { failures.push(err) } })
    t.teardown(() => quiet.close())
    await quiet.create({ name: 'async' })
    await new Promise((resolve) => setImmediate(resolve))
    t.match(failures.at(-1), { message: 'async listener broke' })
  })

  t.test('the plugin checks the audit model at startup', async (t) => {
    const app = Fastify()
    await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT, hashThreads: 1, audit })
    await app.ready()
    const { apiKey } = await app.apiKeys.create({ name: 'plugin' }, { actor: 'admin' })
    t.equal((await app.apiKeys.events(apiKey.id))[0].actor, 'admin')
    await app.close()

    const table = db.provider === 'mysql' ? '`ApiKeyEvent`' : '"ApiKeyEvent"'
    const gone = db.provider === 'mysql' ? '`ApiKeyEventGone`' : '"ApiKeyEventGone"'
    await db.query(`ALTER TABLE ${table} RENAME TO ${gone}`)
    t.teardown(async () => { await db.query(`ALTER TABLE ${gone} RENAME TO ${table}`) })
    const unmigrated = Fastify()
    t.teardown(() => unmigrated.close())
    await unmigrated.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT, hashThreads: 1, audit })
    await t.rejects(async () => await unmigrated.ready(), { code: 'FST_API_KEY_NOT_MIGRATED' }, 'no table: the migrations were not applied')
  })

  t.test('the plugin: who acted, and onEvent in the app\'s log', async (t) => {
    const lines: string[] = []
    const stream = { write: (line: string) => { lines.push(line) } }
    const app = Fastify({ logger: { level: 'info', stream } })
    // docs/events.md: onEvent
    await app.register(apiKeyPlugin, {
      model: prisma.apiKey,
      onEvent: (event) => { app.log.info({ event }, `API key ${event.prefix}: ${event.type}`) }
    })
    await app.ready()
    t.teardown(() => app.close())
    const fastify = app
    const { apiKey } = await fastify.apiKeys.create({ name: 'logged' })
    const id = apiKey.id
    // docs/events.md: the actor
    await fastify.apiKeys.rotate(id, { gracePeriod: 60 * 60 * 1000 }, { actor: 'deploy-bot' })
    await fastify.apiKeys.revoke(id, { actor: 'alice@example.com' })
    const logged = lines.map((line) => JSON.parse(line)).filter((line) => line.event !== undefined)
    t.same(logged.map(({ msg, event }) => [msg, event.actor]), [
      [`API key ${apiKey.prefix}: created`, null], [`API key ${apiKey.prefix}: rotated`, 'deploy-bot'], [`API key ${apiKey.prefix}: revoked`, 'alice@example.com']
    ])
    t.notMatch(lines.join('\n'), /scrypt|hashedKey/, 'no hash in the log')
  })

  t.test('what is refused', async (t) => {
    const manager = testManager(model, { audit })
    t.teardown(() => manager.close())
    const { apiKey, key } = await manager.create({ name: 'refusals' })
    await t.rejects(manager.revoke(apiKey.id, { actor: '' }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /actor/ })
    await t.rejects(manager.revoke(apiKey.id, { actor: 'x'.repeat(192) }), { message: /at most 191 characters/ })
    await t.rejects(manager.revoke(apiKey.id, { actor: `me ${key}` }), { message: /holds an API key/ })
    await t.rejects(manager.revoke(apiKey.id, { who: 'me' } as never), { message: /who: unknown, expected actor/ })
    await t.rejects(manager.revoke(apiKey.id, 'me' as never), { message: /context/ })
    await t.rejects(manager.events(apiKey.id, { take: 0 }), { message: /take/ })
    await t.rejects(manager.events(apiKey.id, { before: 0 }), { message: /before/ })
    await t.rejects(manager.events(apiKey.id, { after: 1 } as never), { message: /after: unknown/ })
    await t.rejects(manager.events(apiKey.id, null as never), { message: /input/ })
    await t.rejects(manager.reportLeak(apiKey.id, { revoke: 'yes' } as never), { message: /revoke/ })
    await t.rejects(manager.reportLeak(apiKey.id, { revoke: true, url: 5 } as never), { message: /url/ })
    await t.rejects(manager.reportLeak(apiKey.id, { revoke: true, where: 'x' } as never), { message: /where: unknown/ })
    await t.rejects(manager.reportLeak(apiKey.id, null as never), { message: /leak/ })
    t.equal((await manager.get(apiKey.id))?.revoked, false, 'none of them changed the key')
    t.same((await manager.events(apiKey.id)).map((event) => event.type), ['created'])

    const options = (audit: unknown, extra = {}): unknown => () => createApiKeyManager({ model, scrypt: FAST_SCRYPT, audit, ...extra } as never)
    t.throws(options(prisma.apiKeyEvent) as () => void, { code: 'FST_API_KEY_INVALID_OPTION', message: /audit: expected \{ model: prisma\.apiKeyEvent \}/ })
    const { create, findMany } = prisma.apiKeyEvent
    t.throws(options({ model: { findMany } }) as () => void, { message: /audit\.model: expected the audit model's Prisma delegate such as prisma\.apiKeyEvent \(missing create\(\)\)/ })
    t.throws(options({ model: prisma.apiKeyEvent, take: 1 }) as () => void, { message: /audit\.take: unknown option/ })
    t.throws(options('events') as () => void, { message: /audit: expected/ })
    t.throws(options({ model: { create, findMany } }) as () => void, { message: /audit\.model: expected a delegate of the same PrismaClient as model/ }, 'methods alone cannot join a transaction')
    t.throws(options(undefined, { onEvent: 'log' }) as () => void, { message: /onEvent: expected a function/ })
  })
})

// A listener that keeps what it heard, and lets a test wait for the next event of a type.
function listener (): { heard: ApiKeyEvent[], onEvent: (event: ApiKeyEvent) => void, next: (type: string) => Promise<ApiKeyEvent> } {
  const heard: ApiKeyEvent[] = []
  const waiting = new Map<string, (event: ApiKeyEvent) => void>()
  return {
    heard,
    onEvent: (event) => {
      heard.push(event)
      waiting.get(event.type)?.(event)
    },
    next: async (type) => await new Promise((resolve) => waiting.set(type, resolve))
  }
}
