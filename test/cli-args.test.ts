import t from 'tap'
import { MINUTE } from './helpers/time.ts'
import { parseCommand, parseScopeFlags } from '../src/cli/args.ts'
import { parseExpiry, parseGrace } from '../src/cli/expiry.ts'
import { formatDuration } from '../src/expiry.ts'
import { parseFields } from '../src/cli/fields.ts'

const NOW = new Date('2026-01-15T10:00:00.000Z')
const usage = (message: RegExp): { exitCode: number, message: RegExp } => ({ exitCode: 2, message })

t.test('durations count from now; dates are ISO dates that exist', async (t) => {
  const after = (value: string): number => parseExpiry(value, NOW).getTime() - NOW.getTime()
  t.equal(after('90m'), 90 * MINUTE)
  t.equal(after('12h'), 12 * 60 * MINUTE)
  t.equal(after('30d'), 30 * 24 * 60 * MINUTE)
  t.equal(after('2w'), 14 * 24 * 60 * MINUTE)
  t.equal(after('1y'), 365 * 24 * 60 * MINUTE)
  // Read by src/expiry.ts, as the admin panel's form is (test/expiry.test.ts).
  t.equal(parseExpiry('2027-01-31', NOW).toISOString(), '2027-02-01T00:00:00.000Z', 'a date: through that day, in UTC')
  t.equal(parseExpiry('2027-01-31T12:30Z', NOW).toISOString(), '2027-01-31T12:30:00.000Z')
  t.equal(parseExpiry('2027-01-31T12:30:15.5+02:00', NOW).toISOString(), '2027-01-31T10:30:15.500Z')
  for (const bad of ['30', 'd', '30 d', '30days', '1.5d', '12345d', '-1d', 'tomorrow', '2027-1-5', '31/01/2027']) {
    t.throws(() => parseExpiry(bad, NOW), usage(/^Invalid --expires .*: use a date like 2027-01-31 or a duration like 30d/), bad)
  }
  t.throws(() => parseExpiry('2027-02-30', NOW), usage(/^Invalid --expires "2027-02-30": there is no 2027-02-30: 2027-02 has 28 days$/))
  t.throws(() => parseExpiry('0m', NOW), usage(/the key would be expired already/))
  t.throws(() => parseExpiry('2026-01-14', NOW), usage(/the key would be expired already/))
  t.equal(parseExpiry('2026-01-15', NOW).toISOString(), '2026-01-16T00:00:00.000Z', 'today: it works until midnight UTC')
})

t.test('--grace: a duration up to a year, or 0', async (t) => {
  t.equal(parseGrace('0'), 0)
  t.equal(parseGrace('0m'), 0)
  t.equal(parseGrace('30m'), 30 * MINUTE)
  t.equal(parseGrace('24h'), 24 * 60 * MINUTE)
  t.equal(parseGrace('7d'), 7 * 24 * 60 * MINUTE)
  t.equal(parseGrace('1y'), 365 * 24 * 60 * MINUTE)
  t.equal(parseGrace('365d'), parseGrace('1y'), 'a year is the most')
  for (const bad of ['', '1', '00', '30', '30s', '1.5h', '-1h', '1 h', '2027-01-31', 'none']) {
    t.throws(() => parseGrace(bad), usage(/^Invalid --grace .*: use a duration like 30m, 24h, 7d, or 0 for none$/), bad)
  }
  for (const long of ['366d', '2y', '53w']) t.throws(() => parseGrace(long), usage(/: at most a year \(1y, 365d\)$/), long)
  t.same(['30m', '90m', '24h', '36h', '7d', '10d', '2w', '1y'].map((value) => formatDuration(parseGrace(value))), ['30m', '90m', '1d', '36h', '1w', '10d', '2w', '1y'])
})

t.test('--scope: repeatable, or lists separated by commas or spaces', async (t) => {
  t.same(parseScopeFlags([]), [])
  t.same(parseScopeFlags(['orders:read']), ['orders:read'])
  t.same(parseScopeFlags(['orders:read', 'orders:write']), ['orders:read', 'orders:write'])
  t.same(parseScopeFlags(['orders:read,orders:write', ' billing:* ', 'a, b  c,', '*']), ['orders:read', 'orders:write', 'billing:*', 'a', 'b', 'c', '*'])
  t.throws(() => parseScopeFlags(['']), usage(/^Invalid --scope "": expected a scope such as orders:read$/))
  t.throws(() => parseScopeFlags([' , ']), usage(/^Invalid --scope ""/))
  t.throws(() => parseScopeFlags(['orders:read', 'orders/write']), usage(/^Invalid --scope: "orders\/write" is not a scope: use words of A-Z a-z 0-9 _ \. - joined by colons/))
  t.throws(() => parseScopeFlags(['*:read']), usage(/"\*:read" is not a scope/))
  t.throws(() => parseScopeFlags(Array.from({ length: 100 }, (_, i) => `resource${i}:read`)), usage(/^Invalid --scope: at most 1000 characters in all$/))
})

t.test('--field: strings, or JSON after :=', async (t) => {
  t.same(parseFields([]), {})
  t.same(parseFields(['team=ops', 'orgId:=42', 'internal:=true', 'note:=null', 'label:="x y"', 'eq=a=b', 'empty=']), {
    team: 'ops', orgId: 42, internal: true, note: null, label: 'x y', eq: 'a=b', empty: ''
  })
  const proto = parseFields(['__proto__=x'])
  t.equal(Object.getPrototypeOf(proto), Object.prototype, 'no prototype is set')
  t.ok(Object.hasOwn(proto, '__proto__'), 'it stays a field, for Prisma to refuse')
  t.throws(() => parseFields(['team']), usage(/^Invalid --field "team": expected name=value/))
  t.throws(() => parseFields(['1st=x']), usage(/expected name=value/))
  t.throws(() => parseFields(['orgId:=forty']), usage(/^Invalid --field orgId:=forty: not JSON/))
  t.throws(() => parseFields(['name=x']), usage(/^Invalid --field name: use --name$/))
  t.throws(() => parseFields(['expiresAt:=null']), usage(/use --expires/))
  t.throws(() => parseFields(['scopes=orders:read']), usage(/^Invalid --field scopes: use --scope$/))
  t.throws(() => parseFields(['team=a', 'team=b']), usage(/given twice/))
  t.same(parseFields(['constructor=x']), { constructor: 'x' })
})

t.test('commands and their options', async (t) => {
  t.same(parseCommand(['create', '--name', 'ci', '--field', 'a=1', '--field', 'b:=2', '--json'], NOW), {
    command: 'create', config: undefined, name: 'ci', expiresAt: null, scopes: [], allowedIps: [], fields: { a: '1', b: 2 }, json: true
  })
  t.match(parseCommand(['create', '--name', 'ci', '--scope', 'orders:read', '--scope=orders:write,billing:*'], NOW), {
    command: 'create', scopes: ['orders:read', 'orders:write', 'billing:*']
  })
  t.match(parseCommand(['--config', 'x.mjs', 'create', '--expires', '1d', '--name=ci'], NOW), {
    command: 'create', config: 'x.mjs', expiresAt: new Date(NOW.getTime() + 24 * 60 * MINUTE), json: false
  })
  t.same(parseCommand(['list'], NOW), { command: 'list', config: undefined, status: undefined, limit: 20, page: 1, json: false })
  t.same(parseCommand(['list', '--status', 'expired', '--limit', '500', '--page', '3', '--json'], NOW), {
    command: 'list', config: undefined, status: 'expired', limit: 500, page: 3, json: true
  })
  t.same(parseCommand(['show', 'abc', '--json', '--config', 'c.ts'], NOW), { command: 'show', config: 'c.ts', target: 'abc', json: true })
  t.same(parseCommand(['revoke', '-y', 'abc'], NOW), { command: 'revoke', config: undefined, target: 'abc', yes: true })
  t.same(parseCommand(['revoke', 'abc'], NOW), { command: 'revoke', config: undefined, target: 'abc', yes: false })
  t.same(parseCommand(['rotate', 'abc'], NOW), { command: 'rotate', config: undefined, target: 'abc', gracePeriod: 0, json: false })
  t.same(parseCommand(['rotate', '--grace', '24h', 'abc', '--json'], NOW), { command: 'rotate', config: undefined, target: 'abc', gracePeriod: 24 * 60 * MINUTE, json: true })
})

t.test('usage: --from and --to take UTC dates, through the day for --to, or instants', async (t) => {
  t.same(parseCommand(['usage', 'abc'], NOW), { command: 'usage', config: undefined, target: 'abc', from: undefined, to: undefined, json: false })
  t.same(parseCommand(['usage', '--from', '2026-01-01', 'abc', '--to', '2026-01-10', '--json'], NOW), {
    command: 'usage', config: undefined, target: 'abc', from: new Date('2026-01-01T00:00:00.000Z'), to: new Date('2026-01-11T00:00:00.000Z'), json: true
  })
  t.match(parseCommand(['usage', 'abc', '--from', '2026-01-01T12:00Z', '--to', '2026-01-01T13:30+01:00'], NOW), {
    from: new Date('2026-01-01T12:00:00.000Z'), to: new Date('2026-01-01T12:30:00.000Z')
  })
  t.match(parseCommand(['usage', 'abc', '--to', '2026-01-01'], NOW), { from: undefined, to: new Date('2026-01-02T00:00:00.000Z') })
})

t.test('sweep: --idle takes a duration of an hour or more', async (t) => {
  t.same(parseCommand(['sweep', '--idle', '90d'], NOW), { command: 'sweep', config: undefined, unusedFor: 90 * 24 * 60 * MINUTE, expired: false, dryRun: false, json: false })
  t.same(parseCommand(['--dry-run', 'sweep', '--idle', '12w', '--json', '--config', 'c.mjs'], NOW), {
    command: 'sweep', config: 'c.mjs', unusedFor: 12 * 7 * 24 * 60 * MINUTE, expired: false, dryRun: true, json: true
  })
  t.same(parseCommand(['sweep', '--expired'], NOW), { command: 'sweep', config: undefined, unusedFor: null, expired: true, dryRun: false, json: false }, '--expired alone')
  t.match(parseCommand(['sweep', '--expired', '--idle', '1y', '--dry-run'], NOW), { unusedFor: 365 * 24 * 60 * MINUTE, expired: true, dryRun: true }, 'or both')
  t.equal((parseCommand(['sweep', '--idle', '1y'], NOW) as { unusedFor: number }).unusedFor, 365 * 24 * 60 * MINUTE)
  t.equal((parseCommand(['sweep', '--idle', '60m'], NOW) as { unusedFor: number }).unusedFor, 60 * MINUTE, 'an hour is the least')
  t.same(parseCommand(['sweep', '--help'], NOW), { command: 'help', topic: 'sweep' })
  t.throws(() => parseCommand(['sweep'], NOW), usage(/^sweep needs --idle <duration>, such as --idle 90d, or --expired \(see 'fastify-prisma-api-key sweep --help'\)$/))
  for (const bad of ['90', '90 days', '1.5y', 'never', '']) {
    t.throws(() => parseCommand(['sweep', '--idle', bad], NOW), usage(/^Invalid --idle .*: use a duration like 90d, 12w, 1y$/), bad)
  }
  t.throws(() => parseCommand(['sweep', '--idle', '59m'], NOW), usage(/^Invalid --idle "59m": at least an hour \(1h\)$/))
  t.throws(() => parseCommand(['sweep', 'abc', '--idle', '1d'], NOW), usage(/^Unexpected argument "abc"/))
  t.throws(() => parseCommand(['sweep', '--idle', '1d', '--yes'], NOW), usage(/^Unknown option '--yes'/))
})

t.test('events and --actor', async (t) => {
  t.same(parseCommand(['events', 'abc'], NOW), { command: 'events', config: undefined, target: 'abc', limit: 20, before: undefined, json: false })
  t.same(parseCommand(['events', 'abc', '--limit', '500', '--before', '41', '--json'], NOW), { command: 'events', config: undefined, target: 'abc', limit: 500, before: 41, json: true })
  t.throws(() => parseCommand(['events', 'abc', '--before', '0'], NOW), usage(/^Invalid --before "0": expected an integer from 1 to/))
  t.throws(() => parseCommand(['events', 'abc', '--limit', '501'], NOW), usage(/^Invalid --limit "501": expected an integer from 1 to 500$/))
  t.throws(() => parseCommand(['events'], NOW), usage(/^events needs one id or prefix/))
  t.throws(() => parseCommand(['events', 'abc', '--actor', 'me'], NOW), usage(/^Unknown option '--actor'/), 'reading changes nothing: no actor')
  // Every command that changes a key takes it; none sets it when not given (the OS user is commands.ts's default).
  for (const argv of [['create', '--name', 'x'], ['rotate', 'abc'], ['revoke', 'abc', '--yes'], ['disable', 'abc'], ['enable', 'abc'],
    ['allowed-ips', 'abc', '--anywhere'], ['credits', 'abc', '--unlimited'], ['sweep', '--idle', '90d'], ['import', '--from', 'drf-api-key', 'keys.csv']]) {
    t.match(parseCommand([...argv, '--actor', 'alice@example.com'], NOW), { command: argv[0], actor: 'alice@example.com' }, argv[0])
    t.notOk('actor' in parseCommand(argv, NOW), `${argv[0]} without --actor`)
    t.throws(() => parseCommand([...argv, '--actor', ''], NOW), usage(/^Invalid --actor "": expected who is acting/), `${argv[0]} --actor ""`)
  }
  for (const argv of [['list'], ['show', 'abc'], ['usage', 'abc']]) {
    t.throws(() => parseCommand([...argv, '--actor', 'alice'], NOW), usage(/^Unknown option '--actor'/), argv[0])
  }
})

t.test('import: --from names the system, and one file to read', async (t) => {
  t.same(parseCommand(['import', '--from', 'drf-api-key', 'keys.csv'], NOW), { command: 'import', config: undefined, from: 'drf-api-key', file: 'keys.csv', json: false })
  t.same(parseCommand(['import', 'keys.json', '--from', 'sha256', '--json', '--config', 'c.mjs'], NOW), { command: 'import', config: 'c.mjs', from: 'sha256', file: 'keys.json', json: true })
  t.same(parseCommand(['import', '--help'], NOW), { command: 'help', topic: 'import' })
  t.throws(() => parseCommand(['import', 'keys.csv'], NOW), usage(/^import needs --from drf-api-key or --from sha256 \(see 'fastify-prisma-api-key import --help'\)$/))
  t.throws(() => parseCommand(['import', '--from', 'django', 'keys.csv'], NOW), usage(/^Invalid --from "django": expected drf-api-key or sha256$/))
  t.throws(() => parseCommand(['import', '--from', 'drf-api-key'], NOW), usage(/^import needs the file to read: a CSV or JSON export \(see 'fastify-prisma-api-key import --help'\)$/))
  t.throws(() => parseCommand(['import', '--from', 'drf-api-key', 'a.csv', 'b.csv'], NOW), usage(/^import needs the file to read/))
})

t.test('help, wherever it is asked for', async (t) => {
  t.same(parseCommand(['--help'], NOW), { command: 'help', topic: 'main' })
  t.same(parseCommand(['help'], NOW), { command: 'help', topic: 'main' })
  t.same(parseCommand(['help', 'list'], NOW), { command: 'help', topic: 'list' })
  t.same(parseCommand(['rotate', '--grace', 'forever', '-h'], NOW), { command: 'help', topic: 'rotate' })
  t.same(parseCommand(['show', '-h'], NOW), { command: 'help', topic: 'show' })
  t.same(parseCommand(['disable', 'abc'], NOW), { command: 'disable', config: undefined, target: 'abc' })
  t.same(parseCommand(['allowed-ips', 'abc', '--ip', '10.0.0.0/8, ::ffff:192.0.2.1', '--ip', '2001:DB8::1'], NOW),
    { command: 'allowed-ips', config: undefined, target: 'abc', allowedIps: ['10.0.0.0/8', '192.0.2.1', '2001:db8::1'], json: false })
  t.same(parseCommand(['allowed-ips', 'abc', '--anywhere', '--json'], NOW), { command: 'allowed-ips', config: undefined, target: 'abc', allowedIps: null, json: true })
  t.same(parseCommand(['credits', 'abc'], NOW), { command: 'credits', config: undefined, target: 'abc', json: false }, 'no change: shows them')
  t.same(parseCommand(['credits', 'abc', '--set', '500', '--refill', 'Day:500', '--json'], NOW),
    { command: 'credits', config: undefined, target: 'abc', credits: 500, creditRefill: 'day:500', json: true })
  t.same(parseCommand(['credits', 'abc', '--refill', 'none'], NOW), { command: 'credits', config: undefined, target: 'abc', creditRefill: null, json: false })
  t.same(parseCommand(['credits', 'abc', '--unlimited'], NOW), { command: 'credits', config: undefined, target: 'abc', credits: null, creditRefill: null, json: false })
  t.match(parseCommand(['create', '--name', 'x', '--credits', '0', '--refill', 'month:1:100'], NOW), { command: 'create', credits: 0, creditRefill: 'month:1:100' })
  const limited = parseCommand(['create', '--name', 'x', '--credits', '5'], NOW)
  t.match(limited, { command: 'create', credits: 5 })
  t.notOk('creditRefill' in limited, 'no refill given, none set')
  t.same(parseCommand(['enable', '--config', 'c.mjs', 'abc'], NOW), { command: 'enable', config: 'c.mjs', target: 'abc' })
  t.same(parseCommand(['usage', '--from', 'whenever', '--help'], NOW), { command: 'help', topic: 'usage' })
  t.same(parseCommand(['create', '--expires', 'soon', '--help'], NOW), { command: 'help', topic: 'create' }, 'before any check')
})

t.test('bad usage', async (t) => {
  const bad = (argv: string[], message: RegExp): void => { t.throws(() => parseCommand(argv, NOW), usage(message), argv.join(' ')) }
  bad([], /^Missing command: create, list, show, rotate, revoke, disable, enable, allowed-ips, credits, usage, events, sweep, import or help/)
  bad(['credits', 'abc', '--set=-1'], /^Invalid --set "-1": expected an integer from 0 to 2147483647/)
  bad(['credits', 'abc', '--set', 'lots'], /^Invalid --set "lots"/)
  bad(['credits', 'abc', '--refill', 'hourly'], /^Invalid --refill: "hourly": expected day:AMOUNT/)
  bad(['credits', 'abc', '--unlimited', '--set', '5'], /^credits --unlimited removes the limit and its refill: it takes no --set or --refill/)
  bad(['create', '--name', 'x', '--refill', 'day:5'], /^create --refill needs --credits: a key without credits is unlimited/)
  bad(['create', '--name', 'x', '--credits', '1e3'], /^Invalid --credits "1e3": expected an integer from 0 to 2147483647/)
  bad(['allowed-ips', 'abc'], /^allowed-ips needs --ip <cidr> \(repeatable\) or --anywhere/)
  bad(['allowed-ips', 'abc', '--ip', ''], /^Invalid --ip: an empty list would refuse every address/)
  bad(['--json'], /^Missing command/)
  bad(['rename'], /^Unknown command "rename"/)
  bad(['help', 'rename'], /^Unknown command "rename"/)
  bad(['list', '--yes'], /^Unknown option '--yes' \(see 'fastify-prisma-api-key list --help'\)$/)
  bad(['list', '--json=yes'], /^Option '--json' does not take an argument/)
  bad(['create', '--name'], /argument missing/)
  bad(['create'], /^create needs --name <name>/)
  bad(['create', '--name', '  '], /^create needs --name <name>/)
  bad(['create', '--name', 'x', 'extra'], /^Unexpected argument "extra"/)
  bad(['show'], /^show needs one id or prefix/)
  bad(['revoke', 'a', 'b', '--yes'], /^revoke needs one id or prefix/)
  bad(['rotate', '--grace', '1h'], /^rotate needs one id or prefix/)
  bad(['rotate', 'abc', '--grace', '2y'], /^Invalid --grace "2y": at most a year/)
  bad(['rotate', 'abc', '--yes'], /^Unknown option '--yes' \(see 'fastify-prisma-api-key rotate --help'\)$/)
  bad(['create', '--name', 'x', '--scope', 'orders read!'], /^Invalid --scope: "read!" is not a scope/)
  bad(['list', '--scope', 'orders:read'], /^Unknown option '--scope'/)
  bad(['list', '--status', 'all'], /^Invalid --status "all": expected one of active, disabled, revoked, expired$/)
  bad(['disable'], /^disable needs one id or prefix/)
  bad(['enable', 'a', 'b'], /^enable needs one id or prefix/)
  bad(['enable', 'abc', '--yes'], /^Unknown option '--yes' \(see 'fastify-prisma-api-key enable --help'\)$/)
  for (const limit of ['0', '501', '1.5', 'ten', '']) bad(['list', '--limit', limit], /^Invalid --limit .*: expected an integer from 1 to 500$/)
  bad(['list', '--page', '0'], /^Invalid --page "0"/)
  bad(['list', '--limit', '-1'], /^Option '--limit' argument is ambiguous\.? \(see/)
  bad(['list', '--limit=-1'], /^Invalid --limit "-1"/)
  bad(['usage'], /^usage needs one id or prefix/)
  bad(['usage', 'abc', '--yes'], /^Unknown option '--yes' \(see 'fastify-prisma-api-key usage --help'\)$/)
  for (const from of ['yesterday', '30d', '2026-1-5', '01/05/2026']) {
    bad(['usage', 'abc', '--from', from], /^Invalid --from .*: use a date like 2026-11-01 \(UTC\) or a time with its zone like 2026-11-01T12:00Z$/)
  }
  bad(['usage', 'abc', '--to', '2026-02-30'], /^Invalid --to "2026-02-30": there is no 2026-02-30: 2026-02 has 28 days$/)
  bad(['usage', 'abc', '--from', '2026-01-01T12:00'], /^Invalid --from "2026-01-01T12:00": give the time zone/)
  bad(['usage', 'abc', '--from', '2026-01-10', '--to', '2026-01-09'], /^Invalid --to: the range ends before --from$/)
})
