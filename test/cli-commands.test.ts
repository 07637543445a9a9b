import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { runCommand } from '../src/cli/commands.ts'
import { confirm, terminalIo, type Io } from '../src/cli/prompt.ts'
import { errors } from '../src/errors.ts'
import type { ApiKeyEvent } from '../src/events.ts'
import { createApiKeyManager, type ApiKeyManager } from '../src/manager.ts'
import { openDatabase } from './helpers/databases.ts'
import { drfKey, drfSha512, sha256 } from './helpers/legacy.ts'

// What a child process cannot reach: a person at a terminal, and the odd
// corners of paging.

interface FakeIo extends Io {
  lines: string[]
  notes: string[]
  questions: string[]
  steps: string[]
}

function fakeIo (answers: boolean[] = [], interactive = true): FakeIo {
  const io: FakeIo = {
    lines: [],
    notes: [],
    questions: [],
    steps: [],
    interactive,
    progress: (done, total) => { io.steps.push(`${done}/${total}`) },
    out: (line) => { io.lines.push(line) },
    note: (line) => { io.notes.push(line) },
    confirm: async (question) => {
      io.questions.push(question)
      return answers.shift() as boolean
    }
  }
  return io
}

t.test('commands on a database', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const manager = createApiKeyManager({ model: db.prisma.apiKey, scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1, cacheTtl: 0, ipAllowlist: true, credits: true })
  t.teardown(() => manager.close())

  t.test('empty lists and pages past the end', async (t) => {
    const io = fakeIo()
    await runCommand({ command: 'list', limit: 20, page: 1, json: false }, manager, io)
    await runCommand({ command: 'list', status: 'expired', limit: 20, page: 1, json: false }, manager, io)
    await manager.create({ name: 'only' })
    await runCommand({ command: 'list', status: 'active', limit: 20, page: 2, json: false }, manager, io)
    t.same(io.lines, ['No keys.', 'No expired keys.', 'Page 2 is past the end: 1 active keys, 20 a page.'])
  })

  t.test('revoke on a terminal asks first', async (t) => {
    const { apiKey, key } = await manager.create({ name: 'asked\u001b[31m' })
    const io = fakeIo([false, true])
    t.equal(await runCommand({ command: 'revoke', target: apiKey.prefix, yes: false }, manager, io), 1, 'no: exit 1')
    t.same(io.notes, ['Not revoked.'])
    t.match(await manager.verify(key), { valid: true })
    t.equal(await runCommand({ command: 'revoke', target: apiKey.id, yes: false }, manager, io), 0)
    t.same(io.questions.map((q) => q.includes(`Revoke key "asked?[31m" (${apiKey.prefix})? Requests with it will be refused, and this cannot be undone.`)), [true, true])
    t.same(io.lines, [`Revoked key "asked?[31m" (${apiKey.prefix}).`])
    t.match(await manager.verify(key), { valid: false, reason: 'revoked' })
    t.equal(await runCommand({ command: 'revoke', target: apiKey.id, yes: false }, manager, io), 0, 'already revoked: nothing to ask')
    t.equal(io.questions.length, 2)
  })

  t.test('create with extra fields hands them to the model', async (t) => {
    const io = fakeIo()
    await t.rejects(runCommand({ command: 'create', name: 'x', expiresAt: null, scopes: [], allowedIps: [], fields: { team: 'ops' }, json: false }, manager, io), { message: /Unknown argument `team`/ })
    t.same(io.lines, [])
  })

  t.test('allowed-ips: a list, then anywhere, as text and as JSON', async (t) => {
    const { apiKey } = await manager.create({ name: 'office' })
    const io = fakeIo()
    t.equal(await runCommand({ command: 'allowed-ips', target: apiKey.prefix, allowedIps: ['10.0.0.0/8', '2001:db8::1'], json: false }, manager, io), 0)
    t.equal(io.lines.at(-1), `Key "office" (${apiKey.prefix}) may be used from 10.0.0.0/8, 2001:db8::1 only.`)
    t.equal(await runCommand({ command: 'allowed-ips', target: apiKey.id, allowedIps: ['192.0.2.1'], json: true }, manager, io), 0)
    t.match(JSON.parse(io.lines.at(-1) as string), { id: apiKey.id, allowedIps: '192.0.2.1', status: 'active' })
    await runCommand({ command: 'allowed-ips', target: apiKey.id, allowedIps: null, json: false }, manager, io)
    t.equal(io.lines.at(-1), `Key "office" (${apiKey.prefix}) may be used from anywhere.`)
    t.equal((await manager.get(apiKey.id))?.allowedIps, null)
  })

  t.test('credits: shown, set, refilled and made unlimited, as text and as JSON', async (t) => {
    const io = fakeIo()
    await runCommand({ command: 'create', name: 'metered', expiresAt: null, scopes: [], allowedIps: [], credits: 10, creditRefill: 'day:10', fields: {}, json: false }, manager, io)
    t.match(io.lines[0], /\ncredits +10, refilled by day:10$/)
    const { items: [apiKey] } = await manager.list({ where: { name: 'metered' } })
    t.equal(await runCommand({ command: 'credits', target: apiKey.prefix, json: false }, manager, io), 0)
    t.equal(io.lines.at(-1), `Key "metered" (${apiKey.prefix}) has 10 credits left in the database, refilled by day:10.`)
    await runCommand({ command: 'credits', target: apiKey.id, credits: 3, json: true }, manager, io)
    t.match(JSON.parse(io.lines.at(-1) as string), { id: apiKey.id, credits: 3, creditRefill: 'day:10', status: 'active' })
    await runCommand({ command: 'credits', target: apiKey.id, creditRefill: null, json: false }, manager, io)
    t.equal(io.lines.at(-1), `Key "metered" (${apiKey.prefix}) has 3 credits left in the database, never refilled.`)
    await runCommand({ command: 'credits', target: apiKey.id, credits: null, creditRefill: null, json: false }, manager, io)
    t.equal(io.lines.at(-1), `Key "metered" (${apiKey.prefix}) is unlimited.`)
    t.notMatch((await runCommand({ command: 'show', target: apiKey.id, json: false }, manager, io), io.lines.at(-1)), /credits/, 'show: no credits line when unlimited')
    await runCommand({ command: 'create', name: 'no refill', expiresAt: null, scopes: [], allowedIps: [], credits: 5, fields: {}, json: true }, manager, io)
    t.match(JSON.parse(io.lines.at(-1) as string), { apiKey: { credits: 5, creditRefill: null } })
  })

  t.test('create with scopes', async (t) => {
    const io = fakeIo()
    await runCommand({ command: 'create', name: 'scoped', expiresAt: null, scopes: ['orders:read', 'orders:*', 'orders:read'], allowedIps: [], fields: {}, json: false }, manager, io)
    t.match(io.lines[0], /\nscopes +orders:read orders:\*$/, 'stored once each, shown space-separated')
    const key = io.lines[0].split('\n')[0]
    t.match(await manager.verify(key), { valid: true, apiKey: { scopes: 'orders:read orders:*' } })
  })

  t.test('rotate: the new key once, and how long the old one works', async (t) => {
    const { apiKey, key } = await manager.create({ name: 'rotated', scopes: ['orders:read'] })
    const io = fakeIo()
    const before = Date.now()
    t.equal(await runCommand({ command: 'rotate', target: apiKey.prefix, gracePeriod: 90 * 60_000, json: false }, manager, io), 0)
    const [printed] = io.lines
    const newKey = printed.split('\n')[0]
    t.match(newKey, manager.keyPattern)
    t.ok(newKey.startsWith(apiKey.prefix), 'same prefix')
    t.match(printed, /\nscopes +orders:read\nold secret until +\d{4}-\d\d-\d\dT[\d:.]+Z$/)
    t.same(io.notes.slice(0, 1), ['\nThis is the only time the key is shown: store it now, only its hash is kept.'])
    t.match(io.notes[1], /^The old secret keeps working for 90m, until (\S+), then never again\.$/)
    const until = Date.parse(/until (\S+),/.exec(io.notes[1])?.[1] ?? '')
    t.ok(until >= before + 90 * 60_000 && until <= Date.now() + 90 * 60_000)
    t.equal(io.notes.length, 2)
    t.match(await manager.verify(key), { valid: true }, 'old secret: in its grace period')
    t.match(await manager.verify(newKey), { valid: true })

    const json = fakeIo()
    await runCommand({ command: 'rotate', target: apiKey.id, gracePeriod: 0, json: true }, manager, json)
    const rotated = JSON.parse(json.lines[0])
    t.match(rotated, { apiKey: { id: apiKey.id, name: 'rotated', status: 'active', scopes: 'orders:read' }, key: /\./ })
    t.notOk('hashedKey' in rotated.apiKey || 'previousHashedKey' in rotated.apiKey)
    t.same(json.notes, [], 'JSON alone')
    t.match(await manager.verify(newKey), { valid: false }, 'no grace: the secret before stops at once')
    t.match(await manager.verify(rotated.key), { valid: true })

    const none = fakeIo()
    await runCommand({ command: 'rotate', target: apiKey.id, gracePeriod: 0, json: false }, manager, none)
    t.match(none.notes[1], /^The old secret no longer works: running apps refuse it within about a second with the change feed, without it once their cached copy expires/)
  })

  t.test('rotate: an expired key gets a warning, a revoked one an error', async (t) => {
    const { apiKey } = await manager.create({ name: 'lapsed' })
    const expired = await manager.update(apiKey.id, { expiresAt: new Date(Date.now() - 1000) })
    const io = fakeIo()
    t.equal(await runCommand({ command: 'rotate', target: expired.id, gracePeriod: 0, json: false }, manager, io), 0)
    t.match(io.notes[2], `Note: this key expired at ${(expired.expiresAt as Date).toISOString()}, so apps refuse its new secret as well.`)

    const revoked = await manager.create({ name: 'gone' })
    await manager.revoke(revoked.apiKey.id)
    const refused = fakeIo()
    await t.rejects(runCommand({ command: 'rotate', target: revoked.apiKey.prefix, gracePeriod: 0, json: false }, manager, refused), {
      code: 'FST_API_KEY_NOT_ROTATABLE', message: `API key ${revoked.apiKey.id} is revoked: it cannot be rotated, create a new key instead`
    })
    t.same(refused.lines, [])
    await t.rejects(runCommand({ command: 'rotate', target: 'nope', gracePeriod: 0, json: false }, manager, refused), { message: 'No API key with id or prefix "nope"' })
  })
})

t.test('usage: periods and their total, JSON, none in the range', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const manager = createApiKeyManager({ model: db.prisma.apiKey, usage: { model: db.prisma.apiKeyUsage }, scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1 })
  t.teardown(() => manager.close())
  const { apiKey } = await manager.create({ name: 'metered' })
  await db.prisma.apiKeyUsage.createMany({
    data: [
      { keyId: apiKey.id, periodStart: new Date('2026-11-01T00:00:00Z'), count: 2 },
      { keyId: apiKey.id, periodStart: new Date('2026-11-03T00:00:00Z'), count: 40 }
    ]
  })
  const range = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') }
  const table = fakeIo()
  t.equal(await runCommand({ command: 'usage', target: apiKey.prefix, ...range, json: false }, manager, table), 0)
  t.same(table.lines, ['PERIOD START       COUNT\n2026-11-01 00:00Z  2\n2026-11-03 00:00Z  40\ntotal              42'])
  t.same(table.notes, [])
  const json = fakeIo()
  await runCommand({ command: 'usage', target: apiKey.id, ...range, json: true }, manager, json)
  t.same(JSON.parse(json.lines[0]), {
    id: apiKey.id,
    prefix: apiKey.prefix,
    total: 42,
    periods: [{ periodStart: '2026-11-01T00:00:00.000Z', count: 2 }, { periodStart: '2026-11-03T00:00:00.000Z', count: 40 }]
  })
  const none = fakeIo()
  await runCommand({ command: 'usage', target: apiKey.id, from: new Date('2026-11-04T00:00:00Z'), json: false }, manager, none)
  t.same(none.lines, [`No usage of key "metered" (${apiKey.prefix}) counted in this range.`])
})

t.test('sweep: what was revoked, or would be, as a table or JSON', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const manager = createApiKeyManager({ model: db.prisma.apiKey, scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1 })
  t.teardown(() => manager.close())
  const unusedFor = 90 * 24 * 60 * 60_000
  const none = fakeIo()
  t.equal(await runCommand({ command: 'sweep', unusedFor, expired: false, dryRun: false, json: false }, manager, none), 0)
  t.same(none.lines, ['No idle keys.'])
  const longAgo = new Date('2020-01-01T00:00:00Z')
  const old = await Promise.all(['old one', 'old two'].map(async (name) => (await manager.create({ name })).apiKey))
  for (const { id } of old) await db.prisma.apiKey.update({ where: { id }, data: { createdAt: longAgo } })
  const dry = fakeIo()
  t.equal(await runCommand({ command: 'sweep', unusedFor, expired: false, dryRun: true, json: false }, manager, dry), 0)
  t.equal(dry.lines[0], 'Would revoke 2 keys:')
  t.match(dry.lines[1], /^NAME +PREFIX +STATUS +CREATED +EXPIRES +LAST USED +SCOPES\nold (one|two) +\S+ +active +2020-01-01 00:00Z +never +never +-\n/)
  const dryJson = fakeIo()
  await runCommand({ command: 'sweep', unusedFor, expired: false, dryRun: true, json: true }, manager, dryJson)
  const shown = JSON.parse(dryJson.lines[0])
  t.equal(shown.dryRun, true)
  t.same(shown.revoked.map((r: { status: string }) => r.status), ['active', 'active'])
  t.equal((await manager.list({ status: 'revoked' })).total, 0, 'a dry run revokes nothing')

  await db.prisma.apiKey.update({ where: { id: old[1].id }, data: { lastUsedAt: new Date() } })
  const done = fakeIo()
  t.equal(await runCommand({ command: 'sweep', unusedFor, expired: false, dryRun: false, json: false }, manager, done), 0)
  t.equal(done.lines[0], 'Revoked 1 key:')
  t.match(done.lines[1], /\nold one +\S+ +revoked +/)
  await db.prisma.apiKey.update({ where: { id: old[1].id }, data: { lastUsedAt: longAgo } })
  const json = fakeIo()
  await runCommand({ command: 'sweep', unusedFor, expired: false, dryRun: false, json: true }, manager, json)
  t.match(JSON.parse(json.lines[0]), { dryRun: false, revoked: [{ id: old[1].id, status: 'revoked', revoked: true }] })
})

t.test('sweep --expired: what was recorded, or would be, before the idle ones', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const manager = createApiKeyManager({ model: db.prisma.apiKey, audit: { model: db.prisma.apiKeyEvent }, scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1 })
  t.teardown(() => manager.close())
  const { apiKey } = await manager.create({ name: 'ended' })
  const sweep = { command: 'sweep', unusedFor: null, expired: true, json: false, actor: 'cron' } as const
  const before = fakeIo()
  await runCommand({ ...sweep, dryRun: false }, manager, before)
  t.same(before.lines, ['No newly expired keys.'], 'none expired yet')
  await manager.update(apiKey.id, { expiresAt: new Date(Date.now() - 60_000) })
  const dry = fakeIo()
  await runCommand({ ...sweep, dryRun: true }, manager, dry)
  t.equal(dry.lines[0], 'Would record the expiry of 1 key:')
  t.match(dry.lines[1], new RegExp(`\nended +${apiKey.prefix} +expired +`))
  const done = fakeIo()
  await runCommand({ ...sweep, unusedFor: 60 * 60_000, dryRun: false }, manager, done)
  t.same([done.lines[0], done.lines[2], done.lines.length], ['Recorded the expiry of 1 key:', 'No idle keys.', 3], 'the expiry, then the idle sweep')
  const again = fakeIo()
  await runCommand({ ...sweep, dryRun: false, json: true }, manager, again)
  t.same(JSON.parse(again.lines[0]), { expired: [], dryRun: false }, 'once: and no revoked list without --idle')
  const text = fakeIo()
  await runCommand({ ...sweep, dryRun: false }, manager, text)
  t.same(text.lines, ['No newly expired keys.'])
  t.match(await manager.events(apiKey.id), [{ type: 'expired', actor: 'cron' }])
})

t.test('confirm: only y or yes is a yes', async (t) => {
  const ask = async (typed: string | null): Promise<{ answer: boolean, shown: string }> => {
    const input = new PassThrough()
    const output = new PassThrough()
    let shown = ''
    output.on('data', (chunk) => { shown += chunk })
    const answer = confirm('Revoke?', input, output)
    if (typed === null) input.end()
    else input.write(typed)
    return { answer: await answer, shown }
  }
  for (const typed of ['y\n', 'Y\n', 'yes\n', ' YES \n']) t.equal((await ask(typed)).answer, true, typed)
  for (const typed of ['\n', 'n\n', 'no\n', 'yep\n', null]) t.equal((await ask(typed)).answer, false, String(typed))
  t.equal((await ask('y\n')).shown, 'Revoke? [y/N] ')
})

t.test('confirm: Ctrl-C on a terminal is a no', async (t) => {
  const input = new PassThrough()
  const output = Object.assign(new PassThrough(), { isTTY: true, columns: 80 })
  let shown = ''
  output.on('data', (chunk) => { shown += chunk })
  const answer = confirm('Revoke?', input, output)
  input.write('\u0003')
  t.equal(await answer, false)
  t.match(shown, /\n$/)
})

t.test('the terminal: results on stdout, the rest on stderr', async (t) => {
  const stdin = Object.assign(new PassThrough(), { isTTY: true })
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const io = terminalIo(stdin, stdout, stderr)
  t.equal(io.interactive, true)
  t.equal(terminalIo(new PassThrough(), stdout, stderr).interactive, false)
  io.out('result')
  io.note('note')
  const answer = io.confirm('Sure?')
  stdin.write('yes\n')
  t.equal(await answer, true)
  t.equal(stdout.read().toString(), 'result\n')
  t.equal(stderr.read().toString(), 'note\nSure? [y/N] ')
})

t.test('events: nobody named, an empty page further back, and the actor when the OS user has no name', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const manager = createApiKeyManager({ model: db.prisma.apiKey, audit: { model: db.prisma.apiKeyEvent }, suspension: true, scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1 })
  t.teardown(() => manager.close())
  const { apiKey } = await manager.create({ name: 'from code' })
  const io = fakeIo()
  await runCommand({ command: 'events', target: apiKey.prefix, limit: 20, json: false }, manager, io)
  t.match(io.lines[0], /\n\d+ +\S+ +created +- +name: null -> "from code"$/, 'no actor given: -')
  const [{ id }] = await manager.events(apiKey.id)
  await runCommand({ command: 'events', target: apiKey.prefix, limit: 20, before: id as number, json: false }, manager, io)
  t.equal(io.lines[1], `No events of key "from code" (${apiKey.prefix}) before ${id as number}.`)

  // A container's arbitrary uid has no passwd entry: userInfo() throws.
  const { runCommand: run } = await t.mockImport<typeof import('../src/cli/commands.ts')>('../src/cli/commands.ts', {
    'node:os': { userInfo: () => { throw Object.assign(new Error('no passwd entry'), { code: 'ENOENT' }) } }
  })
  const env = { USER: process.env.USER, LOGNAME: process.env.LOGNAME }
  t.teardown(() => { Object.assign(process.env, env); for (const [name, value] of Object.entries(env)) if (value === undefined) delete process.env[name] })
  process.env.USER = 'builder'
  await run({ command: 'disable', target: apiKey.prefix }, manager, io)
  delete process.env.USER
  delete process.env.LOGNAME
  await run({ command: 'enable', target: apiKey.prefix }, manager, io)
  t.same((await manager.events(apiKey.id, { take: 2 })).map((event) => [event.type, event.actor]), [['enabled', 'cli'], ['disabled', 'cli:builder']])
})

t.test('the progress bar: on a terminal\'s stderr only, redrawn in place, wiped once done', async (t) => {
  const stderr = Object.assign(new PassThrough(), { isTTY: true })
  const io = terminalIo(new PassThrough(), new PassThrough(), stderr)
  io.progress(0, 4)
  io.progress(1, 4)
  io.progress(1, 4)
  io.progress(4, 4)
  const bar = (n: number): string => `[${'#'.repeat(n)}${'-'.repeat(30 - n)}]`
  t.equal(stderr.read().toString(), `\r${bar(0)} 0/4` + `\r${bar(7)} 1/4` + `\r${' '.repeat(36)}\r`)
  const piped = new PassThrough()
  terminalIo(new PassThrough(), new PassThrough(), piped).progress(1, 4)
  t.equal(piped.read(), null, 'nothing on a pipe')
})

t.test('import: each row\'s outcome, the run\'s summary, the progress', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const heard: ApiKeyEvent[] = []
  const manager = createApiKeyManager({ model: db.prisma.apiKey, scrypt: { ln: 10, r: 8, p: 1 }, hashThreads: 1, importedKeys: true, onEvent: (event) => { heard.push(event) } })
  t.teardown(() => manager.close())
  const dir = mkdtempSync(join(tmpdir(), 'import-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'keys.csv')
  const good = drfKey()
  writeFileSync(file, [
    'id,prefix,hashed_key,name,revoked,expiry_date,created',
    `${good.prefix}.x,${good.prefix},${drfSha512(good.key)},good,f,,`,
    `bad.x,bad,${sha256(good.key, 'hex')},"wrong \u001b[31mkind",f,,`,
    `ugly.x,ugly,${drfSha512(good.key)},n,perhaps,,`
  ].join('\n'))
  const io = fakeIo()
  t.equal(await runCommand({ command: 'import', from: 'drf-api-key', file, json: false, actor: 'migration-bot' }, manager, io), 1, 'a refusal: exit 1')
  t.match(heard, [{ type: 'created', prefix: good.prefix, actor: 'migration-bot', details: { importedFrom: 'drf-api-key' } }], 'the import is an event, by the actor given')
  t.same(io.lines, [
    'Imported 1 key from drf-api-key; skipped 0 imported before; refused 2:',
    "  line 3 (bad): its hash is not one of drf-api-key's (sha512$$<hex> or pbkdf2_sha256$<iterations>$<salt>$<hash>)",
    '  line 4 (ugly): revoked: expected true, false, t, f, 1 or 0'
  ])
  t.same(io.steps, ['0/3', '1/3', '2/3', '3/3'])
  const again = fakeIo()
  t.equal(await runCommand({ command: 'import', from: 'drf-api-key', file, json: true }, manager, again), 1)
  t.same(JSON.parse(again.lines[0]), { imported: 0, skipped: 1, refused: [{ line: 3, prefix: 'bad', reason: "its hash is not one of drf-api-key's (sha512$$<hex> or pbkdf2_sha256$<iterations>$<salt>$<hash>)" }, { line: 4, prefix: 'ugly', reason: 'revoked: expected true, false, t, f, 1 or 0' }] })
  await t.rejects(runCommand({ command: 'import', from: 'drf-api-key', file: join(dir, 'missing.csv'), json: false }, manager, io), { message: /^Cannot read .*missing\.csv: ENOENT/ })
  const json = join(dir, 'keys.json')
  writeFileSync(json, JSON.stringify([{ prefix: good.prefix, hashed_key: drfSha512(good.key), name: 'good' }, { name: 'no prefix' }]))
  const entries = fakeIo()
  t.equal(await runCommand({ command: 'import', from: 'drf-api-key', file: json, json: false }, manager, entries), 1)
  t.same(entries.lines, ['Imported 0 keys from drf-api-key; skipped 1 imported before; refused 1:', '  entry 2: prefix: missing'])
  t.same(entries.notes, [], 'nothing new to accept')
  // The database, not the row: the run stops there, saying what it did before.
  const down = { features: { importedKeys: true }, importKey: async () => { throw new errors.UNAVAILABLE() } } as unknown as ApiKeyManager
  const steps = fakeIo()
  await t.rejects(runCommand({ command: 'import', from: 'drf-api-key', file, json: false }, down, steps), {
    exitCode: 1, message: 'Stopped at line 2: Could not reach the database: API key store is unavailable, try again later (imported 0, skipped 0 before it; a re-run skips them)'
  })
  t.same(steps.steps, ['0/3', '3/3'], 'the bar is wiped')
  const off = createApiKeyManager({ model: db.prisma.apiKey, hashThreads: 1 })
  t.teardown(() => off.close())
  await t.rejects(runCommand({ command: 'import', from: 'drf-api-key', file, json: false }, off, io), { exitCode: 2, message: /^import needs importedKeys: true in the config/ })
})
