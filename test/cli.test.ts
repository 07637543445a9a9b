import type { Test } from 'tap'
// The CLI as a user runs it: the built bin in a child process, reading a
// TypeScript config module through tsx, against a real database.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { testManager } from './helpers/app.ts'
import { DAY } from './helpers/time.ts'
import { type ApiKeyManager } from '../src/manager.ts'
import { cli, CONFIG, databaseEnv, UNREACHABLE, type Run } from './helpers/cli.ts'
import { openDatabase, skipReason, type TestDatabase } from './helpers/databases.ts'

/** A failure is one line on stderr, nothing on stdout, and no stack trace. */
function failed (t: Test, run: Run, code: number, message: RegExp): void {
  t.equal(run.code, code, `exit ${code}`)
  t.equal(run.stdout, '')
  t.match(run.stderr, /^fastify-prisma-api-key: [^\n]+\n$/, 'one line')
  t.match(run.stderr, message)
}

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function suite (t: Test, db: TestDatabase): Promise<void> {
  const env = await databaseEnv(db)
  const run = async (...args: string[]): Promise<Run> => await cli([...args, '--config', CONFIG], env)
  const manager: ApiKeyManager = testManager(db.prisma.apiKey, { cacheTtl: 0 })
  t.teardown(() => manager.close())
  const keys: string[] = []
  const others: Run[] = []
  const other = async (...args: string[]): Promise<Run> => {
    const result = await run(...args)
    others.push(result)
    return result
  }

  await t.test('create prints a working key once, then its record', async (t) => {
    const before = Date.now()
    const created = await run('create', '--name', 'billing service', '--expires', '30d')
    t.equal(created.code, 0)
    const key = created.stdout.split('\n')[0]
    keys.push(key)
    t.match(key, manager.keyPattern)
    t.equal((created.stdout + created.stderr).split(key).length, 2, 'the key appears once')
    t.match(created.stdout, /\nname +billing service\n/)
    t.match(created.stdout, /\nstatus +active\n/)
    t.match(created.stderr, /only time the key is shown/)
    const verified = await manager.verify(key)
    t.ok(verified.valid, 'the printed key works')
    if (!verified.valid) return
    t.equal(verified.apiKey.name, 'billing service')
    const expires = (verified.apiKey.expiresAt as Date).getTime()
    t.ok(expires >= before + 30 * DAY && expires <= Date.now() + 30 * DAY, 'expires in 30 days')
    t.match(created.stdout, new RegExp(`\\nid +${verified.apiKey.id}\\n`))
  })

  await t.test('create --json gives { apiKey, key }', async (t) => {
    const created = await run('create', '--name', 'ci', '--expires', '2099-01-31', '--json')
    t.equal(created.code, 0)
    const { apiKey, key } = JSON.parse(created.stdout)
    keys.push(key)
    t.match(key, manager.keyPattern)
    t.match(apiKey, { name: 'ci', expiresAt: '2099-02-01T00:00:00.000Z', revoked: false, status: 'active', lastUsedAt: null })
    t.notOk('hashedKey' in apiKey)
    t.match(await manager.verify(key), { valid: true, apiKey: { id: apiKey.id } })
  })

  await t.test('bad input creates nothing', async (t) => {
    const before = (await manager.list()).total
    const [duration, past, unnamed, reserved, unknown] = await Promise.all([
      run('create', '--name', 'x', '--expires', '30 days'),
      run('create', '--name', 'x', '--expires', '2020-01-01'),
      run('create', '--expires', '1d'),
      run('create', '--name', 'x', '--field', 'id=mine'),
      run('create', '--name', 'x', '--field', 'nosuchcolumn=1')
    ])
    failed(t, duration, 2, /Invalid --expires "30 days": use a date like 2027-01-31 or a duration like 30d/)
    failed(t, past, 2, /expired already/)
    failed(t, unnamed, 2, /create needs --name/)
    failed(t, reserved, 2, /Invalid argument id: is set by the library/)
    // Extra fields reach the model as they are: this one has no such column.
    failed(t, unknown, 1, /Unknown argument `nosuchcolumn`/)
    t.equal((await manager.list()).total, before)
  })

  await t.test('list: a table, filters, pages and --json', async (t) => {
    const revoked = await manager.create({ name: 'old partner' })
    await manager.revoke(revoked.apiKey.id)
    const expired = await manager.create({ name: 'last year' })
    await manager.update(expired.apiKey.id, { expiresAt: new Date(Date.now() - DAY) })
    keys.push(revoked.key, expired.key)

    const table = await other('list')
    t.equal(table.code, 0)
    const [header, ...rows] = table.stdout.trimEnd().split('\n')
    t.match(header, /^NAME +PREFIX +STATUS +CREATED +EXPIRES +LAST USED +SCOPES$/)
    t.equal(rows.length, 4)
    t.match(rows[0], new RegExp(`^last year +${expired.apiKey.prefix} +expired +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ +\\d{4}-`))
    t.match(rows[1], new RegExp(`^old partner +${revoked.apiKey.prefix} +revoked +.+ never +never +-$`))
    t.match(table.stderr, /1-4 of 4/)

    const [revokedJson, activeJson, secondJson, paged, lost, zero] = await Promise.all([
      other('list', '--status', 'revoked', '--json'),
      other('list', '--status', 'active', '--json'),
      other('list', '--limit', '1', '--page', '2', '--json'),
      other('list', '--limit', '3'),
      run('list', '--status', 'lost'),
      run('list', '--limit', '0')
    ])
    const onlyRevoked = JSON.parse(revokedJson.stdout)
    t.match(onlyRevoked, { total: 1, page: 1, limit: 20, items: [{ id: revoked.apiKey.id, status: 'revoked' }] })
    t.notOk('hashedKey' in onlyRevoked.items[0])
    const active = JSON.parse(activeJson.stdout)
    t.same(active.items.map((item: { name: string }) => item.name), ['ci', 'billing service'])
    t.match(JSON.parse(secondJson.stdout), { total: 4, page: 2, limit: 1, items: [{ name: 'old partner' }] })
    t.match(paged.stderr, /1-3 of 4; --page 2 for more/)
    failed(t, lost, 2, /Invalid --status "lost": expected one of active, disabled, revoked, expired/)
    failed(t, zero, 2, /Invalid --limit "0"/)
  })

  await t.test('show by id and by prefix', async (t) => {
    const { apiKey } = await manager.create({ name: 'shown' })
    const [byId, byPrefix, asJson, unknown, missing] = await Promise.all([
      other('show', apiKey.id),
      other('show', apiKey.prefix),
      other('show', apiKey.prefix, '--json'),
      run('show', 'no-such-key'),
      run('show')
    ])
    t.equal(byId.code, 0)
    t.match(byId.stdout, new RegExp(`^name +shown\\nid +${apiKey.id}\\nprefix +${apiKey.prefix}\\nstatus +active\\n`))
    t.match(byId.stdout, /\nexpires +never\nlast used +never\nscopes +none\n$/)
    t.equal(byPrefix.stdout, byId.stdout)
    const json = JSON.parse(asJson.stdout)
    t.match(json, { id: apiKey.id, name: 'shown', status: 'active', expiresAt: null })
    t.notOk('hashedKey' in json)
    failed(t, unknown, 1, /No API key with id or prefix "no-such-key"/)
    failed(t, missing, 2, /show needs one id or prefix/)
  })

  await t.test('revoke asks on a terminal, refuses without one, and --yes revokes', async (t) => {
    const { apiKey, key } = await manager.create({ name: 'to revoke' })
    keys.push(key)
    failed(t, await other('revoke', apiKey.prefix), 2, /Not revoked: no terminal to confirm on; pass --yes/)
    t.match(await manager.verify(key), { valid: true }, 'still works')
    const done = await other('revoke', apiKey.prefix, '--yes')
    t.equal(done.code, 0)
    t.equal(done.stdout, `Revoked key "to revoke" (${apiKey.prefix}).\n`)
    t.match(await manager.verify(key), { valid: false, reason: 'revoked' })
    const again = await other('revoke', apiKey.id, '-y')
    t.equal(again.code, 0)
    t.match(again.stdout, /was already revoked/)
    failed(t, await run('revoke', 'no-such-key', '--yes'), 1, /No API key with id or prefix "no-such-key"/)
  })

  await t.test('disable and enable (the config turns suspension on); list --status disabled', async (t) => {
    const { apiKey, key } = await manager.create({ name: 'to suspend' })
    keys.push(key)
    const done = await other('disable', apiKey.prefix)
    t.equal(done.code, 0)
    t.equal(done.stdout, `Disabled key "to suspend" (${apiKey.prefix}): requests with it are refused until it is enabled.\n`)
    t.match(await manager.verify(key), { valid: false, reason: 'disabled' })
    t.match((await other('disable', apiKey.id)).stdout, /was already disabled/)
    const listed = JSON.parse((await other('list', '--status', 'disabled', '--json')).stdout)
    t.match(listed, { total: 1, items: [{ id: apiKey.id, status: 'disabled', disabled: true }] })
    t.match((await other('show', apiKey.prefix)).stdout, /\nstatus +disabled\n/)
    const enabled = await other('enable', apiKey.prefix)
    t.equal(enabled.code, 0)
    t.equal(enabled.stdout, `Enabled key "to suspend" (${apiKey.prefix}).\n`)
    t.match(await manager.verify(key), { valid: true })
    t.match((await other('enable', apiKey.id)).stdout, /was not disabled/)
    await manager.revoke(apiKey.id)
    failed(t, await run('enable', apiKey.prefix), 1, new RegExp(`API key ${apiKey.id} is revoked: revocation is permanent, it cannot be enabled`))
    failed(t, await run('disable', 'no-such-key'), 1, /No API key with id or prefix "no-such-key"/)
    failed(t, await run('enable'), 2, /enable needs one id or prefix/)
  })

  await t.test('create --allow-ip, allowed-ips --ip and --anywhere (the config turns ipAllowlist on)', async (t) => {
    const created = await run('create', '--name', 'office', '--allow-ip', '203.0.113.0/24', '--allow-ip', '2001:DB8::1,10.0.0.1', '--json')
    t.equal(created.code, 0)
    const { apiKey, key } = JSON.parse(created.stdout)
    keys.push(key)
    t.equal(apiKey.allowedIps, '203.0.113.0/24 2001:db8::1 10.0.0.1')
    t.match(await manager.verify(key, '203.0.113.4'), { valid: true })
    t.match(await manager.verify(key, '198.51.100.4'), { valid: false, reason: 'ip_not_allowed' })
    t.match((await other('show', apiKey.prefix)).stdout, /\nallowed from +203\.0\.113\.0\/24, 2001:db8::1, 10\.0\.0\.1\n/)
    const set = await other('allowed-ips', apiKey.prefix, '--ip', '198.51.100.0/24')
    t.equal(set.code, 0)
    t.equal(set.stdout, `Key "office" (${apiKey.prefix}) may be used from 198.51.100.0/24 only.\n`)
    t.match(await manager.verify(key, '198.51.100.4'), { valid: true })
    t.match(await manager.verify(key, '203.0.113.4'), { valid: false, reason: 'ip_not_allowed' })
    const anywhere = await other('allowed-ips', apiKey.id, '--anywhere', '--json')
    t.match(JSON.parse(anywhere.stdout), { id: apiKey.id, allowedIps: null })
    t.match(await manager.verify(key), { valid: true }, 'from anywhere, even with no address')
    t.notMatch((await other('show', apiKey.prefix)).stdout, /allowed from/)
    failed(t, await run('allowed-ips', apiKey.prefix), 2, /allowed-ips needs --ip <cidr> \(repeatable\) or --anywhere/)
    failed(t, await run('allowed-ips', apiKey.prefix, '--ip', '10.0.0.0/8', '--anywhere'), 2, /allowed-ips needs --ip/)
    failed(t, await run('allowed-ips', apiKey.prefix, '--ip', '10.0.0.0/33'), 2, /Invalid --ip: "10.0.0.0\/33" is not an IPv4 or IPv6 address or CIDR range/)
    failed(t, await run('create', '--name', 'x', '--allow-ip', 'office'), 2, /Invalid --allow-ip: "office" is not/)
    failed(t, await run('allowed-ips', 'no-such-key', '--anywhere'), 1, /No API key with id or prefix "no-such-key"/)
  })

  await t.test('create --credits --refill, credits --set, --refill and --unlimited (the config turns credits on)', async (t) => {
    const created = await run('create', '--name', 'trial', '--credits', '2', '--refill', 'month:1:2', '--json')
    t.equal(created.code, 0)
    const { apiKey, key } = JSON.parse(created.stdout)
    keys.push(key)
    t.match(apiKey, { credits: 2, creditRefill: 'month:1:2' })
    const spender = testManager(db.prisma.apiKey, { cacheTtl: 0, credits: true })
    t.teardown(() => spender.close())
    const verified = await spender.verify(key)
    t.match(verified, { valid: true })
    const record = (verified as { apiKey: typeof apiKey }).apiKey
    t.same([await spender.spend(record), await spender.spend(record), (await spender.spend(record)).paid], [{ paid: true }, { paid: true }, false])
    const shown = await other('credits', apiKey.prefix)
    t.equal(shown.stdout, `Key "trial" (${apiKey.prefix}) has 0 credits left in the database, refilled by month:1:2.\n`)
    const set = await other('credits', apiKey.id, '--set', '100', '--refill', 'every:60:100:add')
    t.equal(set.code, 0)
    t.equal(set.stdout, `Key "trial" (${apiKey.prefix}) has 100 credits left in the database, refilled by every:60:100:add.\n`)
    t.match((await other('show', apiKey.prefix)).stdout, /\ncredits +100, refilled by every:60:100:add\n/)
    const unlimited = await other('credits', apiKey.id, '--unlimited', '--json')
    t.match(JSON.parse(unlimited.stdout), { id: apiKey.id, credits: null, creditRefill: null })
    failed(t, await run('credits', apiKey.id, '--set', 'x'), 2, /Invalid --set "x": expected an integer from 0 to 2147483647/)
    failed(t, await run('credits', 'no-such-key'), 1, /No API key with id or prefix "no-such-key"/)
  })

  await t.test('create --scope, then rotate with and without a grace period', async (t) => {
    const created = await run('create', '--name', 'orders app', '--scope', 'orders:read', '--scope', 'orders:write,billing:*')
    t.equal(created.code, 0)
    const original = created.stdout.split('\n')[0]
    keys.push(original)
    t.match(created.stdout, /\nscopes +orders:read orders:write billing:\*\n/)
    const verified = await manager.verify(original)
    if (!verified.valid) throw new Error('the created key does not work')
    const { id, prefix } = verified.apiKey
    t.equal(verified.apiKey.scopes, 'orders:read orders:write billing:*', 'stored as given')

    const before = Date.now()
    const graced = await run('rotate', prefix, '--grace', '1h')
    t.equal(graced.code, 0)
    const second = graced.stdout.split('\n')[0]
    keys.push(second)
    t.match(second, manager.keyPattern)
    t.not(second, original)
    t.equal((graced.stdout + graced.stderr).split(second).length, 2, 'the new key appears once')
    t.notOk((graced.stdout + graced.stderr).includes(original.slice(9)), 'the old one not at all')
    t.match(graced.stdout, new RegExp(`\\nid +${id}\\nprefix +${prefix}\\nstatus +active\\n`), 'same key: id and prefix')
    t.match(graced.stdout, /\nscopes +orders:read orders:write billing:\*\nold secret until +\S+Z\n$/)
    t.match(graced.stderr, /only time the key is shown: store it now/)
    t.match(graced.stderr, /\nThe old secret keeps working for 1h, until \S+Z, then never again\.\n$/)
    const until = (await manager.get(id))?.previousKeyExpiresAt?.getTime() as number
    t.ok(until >= before + 60 * 60_000 && until <= Date.now() + 60 * 60_000, 'for an hour')
    t.match(await manager.verify(second), { valid: true, apiKey: { id, scopes: 'orders:read orders:write billing:*' } }, 'the new key works')
    t.match(await manager.verify(original), { valid: true, apiKey: { id } }, 'the old one too, during the grace period')

    const shown = await other('show', prefix)
    t.match(shown.stdout, /\nold secret until +\S+Z\n$/)

    const now = await run('rotate', id, '--json')
    t.equal(now.code, 0)
    const { apiKey, key: third } = JSON.parse(now.stdout)
    keys.push(third)
    t.match(apiKey, { id, prefix, status: 'active', scopes: 'orders:read orders:write billing:*' })
    t.notOk('hashedKey' in apiKey || 'previousHashedKey' in apiKey)
    t.equal(now.stderr, '')
    t.match(await manager.verify(third), { valid: true })
    t.match(await manager.verify(second), { valid: false, reason: 'wrong_secret' }, 'without --grace the replaced secret stops at once')
    t.match(await manager.verify(original), { valid: false }, 'and the one before it as well')

    await manager.revoke(id)
    const [revoked, unknown, tooLong, badScope] = await Promise.all([
      run('rotate', prefix, '--grace', '1h'),
      run('rotate', 'no-such-key'),
      run('rotate', prefix, '--grace', '2y'),
      run('create', '--name', 'x', '--scope', 'orders read!')
    ])
    failed(t, revoked, 1, new RegExp(`API key ${id} is revoked: it cannot be rotated, create a new key instead`))
    failed(t, unknown, 1, /No API key with id or prefix "no-such-key"/)
    failed(t, tooLong, 2, /Invalid --grace "2y": at most a year/)
    failed(t, badScope, 2, /Invalid --scope: "read!" is not a scope/)
    t.match(await manager.verify(third), { valid: false, reason: 'revoked' })
  })

  await t.test('usage: a table with a total, --from and --to, and --json', async (t) => {
    const counting = testManager(db.prisma.apiKey, { usage: { model: db.prisma.apiKeyUsage } })
    t.teardown(() => counting.close())
    const { apiKey, key } = await counting.create({ name: 'metered' })
    keys.push(key)
    for (let i = 0; i < 3; i++) t.equal((await counting.verify(key)).valid, true)
    await counting.flush()
    const today = Math.floor(Date.now() / DAY) * DAY
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10)
    await db.prisma.apiKeyUsage.createMany({
      data: [{ keyId: apiKey.id, periodStart: new Date(today - 40 * DAY), count: 7 }, { keyId: apiKey.id, periodStart: new Date(today - 2 * DAY), count: 5 }]
    })
    const unused = await manager.create({ name: 'unused' })

    const [table, all, past, json, empty, off, unknown, missing] = await Promise.all([
      other('usage', apiKey.prefix),
      other('usage', apiKey.id, '--from', day(today - 60 * DAY)),
      other('usage', apiKey.prefix, '--from', day(today - 60 * DAY), '--to', day(today - DAY)),
      other('usage', apiKey.prefix, '--json'),
      other('usage', unused.apiKey.prefix),
      cli(['usage', apiKey.prefix, '--config', CONFIG], { ...env, CLI_NO_USAGE: '1' }),
      run('usage', 'no-such-key'),
      run('usage')
    ])
    t.equal(table.code, 0)
    t.equal(table.stdout, [
      'PERIOD START       COUNT',
      `${day(today - 2 * DAY)} 00:00Z  5`,
      `${day(today)} 00:00Z  3`,
      'total              8',
      ''
    ].join('\n'), 'the last 30 days, oldest first, and their total')
    t.match(all.stdout, new RegExp(`^PERIOD START +COUNT\n${day(today - 40 * DAY)} 00:00Z +7\n.+\n.+\ntotal +15\n$`))
    t.match(past.stdout, /\ntotal +12\n$/, '--to: through that day')
    t.same(JSON.parse(json.stdout), {
      id: apiKey.id,
      prefix: apiKey.prefix,
      total: 8,
      periods: [{ periodStart: new Date(today - 2 * DAY).toISOString(), count: 5 }, { periodStart: new Date(today).toISOString(), count: 3 }]
    })
    t.equal(empty.code, 0)
    t.equal(empty.stdout, `No usage of key "unused" (${unused.apiKey.prefix}) counted in this range.\n`)
    failed(t, off, 2, /The usage history feature is off: pass usage: \{ model: prisma\.apiKeyUsage \} to the plugin or createApiKeyManager/)
    failed(t, unknown, 1, /No API key with id or prefix "no-such-key"/)
    failed(t, missing, 2, /usage needs one id or prefix/)
  })

  await t.test('events: who did what, by --actor or the OS user, newest first, paged', async (t) => {
    const created = await run('create', '--name', 'audited', '--json', '--actor', 'deploy-bot')
    const { apiKey, key } = JSON.parse(created.stdout)
    keys.push(key)
    t.equal((await other('disable', apiKey.prefix)).code, 0)
    t.equal((await other('enable', apiKey.id, '--actor', 'alice@example.com')).code, 0)
    const rotated = await run('rotate', apiKey.prefix, '--json')
    keys.push(JSON.parse(rotated.stdout).key)
    t.equal((await other('revoke', apiKey.prefix, '--yes', '--actor', 'incident-42')).code, 0)

    const osUser = `cli:${userInfo().username}`
    const [table, json, page, empty, unaudited, blank, misplaced] = await Promise.all([
      other('events', apiKey.prefix),
      other('events', apiKey.id, '--json'),
      other('events', apiKey.prefix, '--limit', '2'),
      other('events', (await manager.create({ name: 'quiet' })).apiKey.prefix),
      cli(['events', apiKey.prefix, '--config', CONFIG], { ...env, CLI_NO_AUDIT: '1' }),
      run('disable', apiKey.prefix, '--actor', ' '),
      run('list', '--actor', 'alice')
    ])
    const events = JSON.parse(json.stdout)
    t.match(events, { id: apiKey.id, prefix: apiKey.prefix })
    t.same(events.events.map(({ type, actor }: { type: string, actor: string }) => [type, actor]), [
      ['revoked', 'incident-42'], ['rotated', osUser], ['enabled', 'alice@example.com'], ['disabled', osUser], ['created', 'deploy-bot']
    ])
    t.same(events.events[0].changes, { revoked: { from: false, to: true } })
    t.notMatch(json.stdout, /scrypt|hashedKey|keyId/, 'no hash, and the key named once at the top')

    const [header, ...rows] = table.stdout.trimEnd().split('\n')
    t.match(header, /^ID +AT +EVENT +ACTOR +CHANGES$/)
    t.equal(rows.length, 5)
    t.match(rows[0], new RegExp(`^${events.events[0].id as number} +\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z +revoked +incident-42 +revoked: false -> true$`))
    t.match(rows[3], new RegExp(`^\\d+ +\\S+ +disabled +${osUser} +disabled: false -> true$`))

    t.equal(page.stdout.trimEnd().split('\n').length, 3, 'a header and two events')
    const next = new RegExp(`--before ${events.events[1].id as number} for older events`)
    t.match(page.stderr, next)
    const older = JSON.parse((await other('events', apiKey.prefix, '--json', '--before', String(events.events[1].id))).stdout)
    t.same(older.events.map(({ type }: { type: string }) => type), ['enabled', 'disabled', 'created'])
    t.match(empty.stdout, /^No events recorded for key "quiet" \(\w{8}\)\.\n$/, 'made from code without an actor, and no audit there')
    failed(t, unaudited, 2, /The audit log feature is off/)
    failed(t, blank, 2, /Invalid --actor " ": expected who is acting/)
    failed(t, misplaced, 2, /Unknown option '--actor'/)
  })

  await t.test('sweep --idle: --dry-run lists, then revokes; create obeys maxLifetime', async (t) => {
    const idle = await manager.create({ name: 'idle partner' })
    keys.push(idle.key)
    await db.prisma.apiKey.update({ where: { id: idle.apiKey.id }, data: { createdAt: new Date(Date.now() - 400 * DAY) } })
    const dry = await other('sweep', '--idle', '1y', '--dry-run')
    t.equal(dry.code, 0)
    t.match(dry.stdout, new RegExp(`^Would revoke 1 key:\nNAME +PREFIX +STATUS.*\nidle partner +${idle.apiKey.prefix} +active +`))
    t.equal((await manager.get(idle.apiKey.id))?.revoked, false, 'a dry run revokes nothing (a verify here would be a use)')
    const swept = JSON.parse((await other('sweep', '--idle', '1y', '--json')).stdout)
    t.match(swept, { dryRun: false, revoked: [{ id: idle.apiKey.id, status: 'revoked' }] })
    t.notOk('hashedKey' in swept.revoked[0])
    t.match(await manager.verify(idle.key), { valid: false, reason: 'revoked' })
    t.equal((await other('sweep', '--idle', '1y')).stdout, 'No idle keys.\n')
    failed(t, await run('sweep', '--idle', '30m'), 2, /Invalid --idle "30m": at least an hour/)

    // --expired: each expiry recorded once, in the audit log, by the OS user.
    const ended = await manager.create({ name: 'ended partner' })
    keys.push(ended.key)
    await manager.update(ended.apiKey.id, { expiresAt: new Date(Date.now() - DAY) })
    const mine = (run: Run): string[] => JSON.parse(run.stdout).expired.map(({ id }: { id: string }) => id).filter((id: string) => id === ended.apiKey.id)
    t.same(mine(await other('sweep', '--expired', '--dry-run', '--json')), [ended.apiKey.id], 'a dry run lists it')
    const recorded = await other('sweep', '--expired', '--idle', '1y')
    t.match(recorded.stdout, new RegExp(`^Recorded the expiry of \\d+ keys?:\nNAME .*\n(.*\n)*ended partner +${ended.apiKey.prefix} +expired +.*\n(.*\n)*No idle keys\\.\n$`))
    t.same(mine(await other('sweep', '--expired', '--json')), [], 'recorded once')
    t.match(await manager.events(ended.apiKey.id).catch(() => null), null, 'this manager has no audit log: read it from the CLI')
    const history = JSON.parse((await other('events', ended.apiKey.prefix, '--json')).stdout)
    t.match(history.events[0], { type: 'expired', actor: `cli:${userInfo().username}`, details: { expiresAt: /^\d{4}-/ } })

    const bounded = { ...env, CLI_MAX_LIFETIME: String(90 * DAY) }
    const created = await cli(['create', '--name', 'bounded', '--json', '--config', CONFIG], bounded)
    t.equal(created.code, 0)
    const { apiKey, key } = JSON.parse(created.stdout)
    keys.push(key)
    const expires = new Date(apiKey.expiresAt).getTime()
    t.ok(expires > Date.now() + 89 * DAY && expires <= Date.now() + 90 * DAY, 'no --expires: the maximum')
    failed(t, await cli(['create', '--name', 'too long', '--expires', '1y', '--config', CONFIG], bounded), 2, /API keys may live at most 90d \(the maxLifetime option\)/)
  })

  t.test('only create and rotate print a key', async (t) => {
    t.ok(others.length >= 10)
    for (const { stdout, stderr } of others) {
      for (const key of keys) t.notOk((stdout + stderr).includes(key.slice(9)), 'no secret in the output')
    }
  })
}

// Each run starts a Node process that loads Prisma: the top-level tests run
// side by side, or this file would take minutes.
t.jobs = 4

for (const provider of ['sqlite', 'postgresql'] as const) {
  const skip = skipReason(provider)
  t.test(provider, { buffered: true, skip: skip ?? false }, async (t) => {
    const db = await openDatabase(provider)
    t.teardown(() => db.close())
    await suite(t, db)
  })
}

t.test('--help on every command, with no config needed', { buffered: true }, async (t) => {
  const cwd = tempDir(t)
  const pages = [
    [['--help'], '<command> [options]'],
    [['-h'], '<command> [options]'],
    [['help'], '<command> [options]'],
    [['help', 'revoke'], 'revoke <id|prefix> [options]'],
    [['create', '--help'], 'create --name <name> [options]'],
    [['list', '-h'], 'list [options]'],
    [['show', '--help'], 'show <id|prefix> [options]'],
    [['revoke', '--help', '--yes'], 'revoke <id|prefix> [options]'],
    [['rotate', '--help'], 'rotate <id|prefix> [options]'],
    [['disable', '--help'], 'disable <id|prefix> [options]'],
    [['help', 'enable'], 'enable <id|prefix> [options]'],
    [['allowed-ips', '-h'], 'allowed-ips <id|prefix> --ip <cidr>... | --anywhere'],
    [['credits', '-h'], 'credits <id|prefix> [--set <n>] [--refill <policy>|none] [--unlimited]'],
    [['usage', '--help'], 'usage <id|prefix> [options]'],
    [['events', '--help'], 'events <id|prefix> [options]'],
    [['sweep', '--help'], 'sweep --idle <duration> | --expired [options]'],
    [['import', '--help'], 'import --from <system> <file> [options]']
  ] as const
  const runs = await Promise.all(pages.map(async ([args]) => await cli([...args], {}, cwd)))
  for (const [i, [args, usage]] of pages.entries()) {
    const run = runs[i]
    t.equal(run.code, 0, args.join(' '))
    t.ok(run.stdout.startsWith(`Usage: fastify-prisma-api-key ${usage}\n`), args.join(' '))
    t.equal(run.stderr, '')
  }
})

t.test('usage errors exit 2', { buffered: true }, async (t) => {
  const [rename, none, verbose, valueless, helpRename, grace] = await Promise.all([
    cli(['rename']), cli([]), cli(['list', '--verbose']), cli(['create', '--name']), cli(['help', 'rename']), cli(['rotate', 'abc', '--grace', '1 hour'])
  ])
  failed(t, rename, 2, /Unknown command "rename": expected one of create, list, show, rotate, revoke, disable, enable, allowed-ips, credits, usage, events, sweep, import or help/)
  failed(t, none, 2, /Missing command/)
  failed(t, verbose, 2, /Unknown option '--verbose' \(see 'fastify-prisma-api-key list --help'\)/)
  failed(t, valueless, 2, /Option '--name <value>' argument missing/)
  failed(t, helpRename, 2, /Unknown command "rename"/)
  failed(t, grace, 2, /Invalid --grace "1 hour": use a duration like 30m, 24h, 7d, or 0 for none/)
})

t.test('the config module', { buffered: true }, async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const env = await databaseEnv(db)
  const empty = tempDir(t)

  failed(t, await cli(['list'], {}, empty), 2, /No config found: write \.\/api-keys\.config\.mjs with `export default \{ model: prisma\.apiKey, close: \(\) => prisma\.\$disconnect\(\) \}`/)
  failed(t, await cli(['list', '--config', 'nowhere.mjs'], {}, empty), 2, /Config not found: .*nowhere\.mjs \(given by --config\)/)
  failed(t, await cli(['list'], { API_KEYS_CONFIG: 'gone.ts' }, empty), 2, /Config not found: .*gone\.ts \(given by API_KEYS_CONFIG\)/)

  t.test('from API_KEYS_CONFIG', async (t) => {
    const run = await cli(['list'], { ...env, API_KEYS_CONFIG: CONFIG }, empty)
    t.equal(run.code, 0)
    t.equal(run.stdout, 'No keys.\n')
  })

  t.test('./api-keys.config.ts in the current directory, through tsx', async (t) => {
    const cwd = tempDir(t)
    // An ESM project, as the TypeScript it imports (Prisma's generated client) is.
    writeFileSync(join(cwd, 'package.json'), '{ "type": "module" }\n')
    writeFileSync(join(cwd, 'api-keys.config.ts'), `export { default } from ${JSON.stringify(CONFIG)}\n`)
    const run = await cli(['list', '--status', 'revoked'], env, cwd)
    t.equal(run.code, 0)
    t.equal(run.stdout, 'No revoked keys.\n')
  })

  t.test('./api-keys.config.mjs comes first, and must give a model', async (t) => {
    const cwd = tempDir(t)
    writeFileSync(join(cwd, 'api-keys.config.ts'), `export { default } from ${JSON.stringify(CONFIG)}\n`)
    writeFileSync(join(cwd, 'api-keys.config.mjs'), 'export default { brand: "acme_" }\n')
    failed(t, await cli(['list'], env, cwd), 2, /api-keys\.config\.mjs exports no model: write `export default \{ model: prisma\.apiKey/)
  })

  t.test('a model that is not a Prisma delegate', async (t) => {
    const cwd = tempDir(t)
    writeFileSync(join(cwd, 'api-keys.config.js'), 'export default async () => ({ model: {} })\n')
    failed(t, await cli(['list'], env, cwd), 2, /api-keys\.config\.js: Invalid option model: expected a Prisma model delegate such as prisma\.apiKey/)
  })

  t.test('a config that fails to load', async (t) => {
    const cwd = tempDir(t)
    writeFileSync(join(cwd, 'broken.mjs'), 'throw new Error("DATABASE_URL is not set")\n')
    failed(t, await cli(['list', '--config', 'broken.mjs'], env, cwd), 2, /Could not load .*broken\.mjs: DATABASE_URL is not set/)
  })
})

t.test('an unreachable database is a one-line error, exit 1', { buffered: true }, async (t) => {
  const commands = [['list'], ['show', 'abc'], ['revoke', 'abc', '--yes'], ['create', '--name', 'during outage'], ['rotate', 'abc', '--grace', '1d'], ['usage', 'abc']]
  const runs = await Promise.all(commands.map(async (args) => await cli([...args, '--config', CONFIG], UNREACHABLE)))
  for (const run of runs) {
    failed(t, run, 1, /^fastify-prisma-api-key: Could not reach the database: Can't reach database server at 127\.0\.0\.1:1\n$/)
  }
})
