import { parseArgs } from 'node:util'
import { readAllowlist } from '../ip-allowlist.js'
import type { ImportSource } from '../manager-input.js'
import { MAX_CREDITS, readRefill } from '../refill.js'
import { serializeScopes } from '../scopes.js'
import { STATUSES, type ApiKeyStatus } from '../status.js'
import { parseDate, parseExpiry, parseGrace, parseIdle } from './expiry.js'
import { usageError } from './failure.js'
import { parseFields } from './fields.js'
import { BIN, type HelpTopic } from './help.js'

type OptionSpec = Record<string, { type: 'string' | 'boolean', short?: string, multiple?: boolean }>

const COMMON: OptionSpec = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }
const JSON_FLAG: OptionSpec = { json: { type: 'boolean' } }
// Who made a change, for the events: on every command that changes a key.
const ACTOR_FLAG: OptionSpec = { actor: { type: 'string' } }
const OPTIONS = {
  create: {
    name: { type: 'string' },
    expires: { type: 'string' },
    scope: { type: 'string', multiple: true },
    field: { type: 'string', multiple: true },
    'allow-ip': { type: 'string', multiple: true },
    credits: { type: 'string' },
    refill: { type: 'string' },
    ...JSON_FLAG,
    ...ACTOR_FLAG
  },
  list: { status: { type: 'string' }, limit: { type: 'string' }, page: { type: 'string' }, ...JSON_FLAG },
  show: JSON_FLAG,
  rotate: { grace: { type: 'string' }, ...JSON_FLAG, ...ACTOR_FLAG },
  revoke: { yes: { type: 'boolean', short: 'y' }, ...ACTOR_FLAG },
  disable: ACTOR_FLAG,
  enable: ACTOR_FLAG,
  'allowed-ips': { ip: { type: 'string', multiple: true }, anywhere: { type: 'boolean' }, ...JSON_FLAG, ...ACTOR_FLAG },
  credits: { set: { type: 'string' }, refill: { type: 'string' }, unlimited: { type: 'boolean' }, ...JSON_FLAG, ...ACTOR_FLAG },
  usage: { from: { type: 'string' }, to: { type: 'string' }, ...JSON_FLAG },
  events: { limit: { type: 'string' }, before: { type: 'string' }, ...JSON_FLAG },
  sweep: { idle: { type: 'string' }, expired: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, ...JSON_FLAG, ...ACTOR_FLAG },
  import: { from: { type: 'string' }, ...JSON_FLAG, ...ACTOR_FLAG }
} satisfies Record<string, OptionSpec>
const TARGETS = { create: 0, list: 0, show: 1, rotate: 1, revoke: 1, disable: 1, enable: 1, 'allowed-ips': 1, credits: 1, usage: 1, events: 1, sweep: 0, import: 1 }
const SOURCES: readonly ImportSource[] = ['drf-api-key', 'sha256']

type CommandName = keyof typeof OPTIONS
const NAMES = Object.keys(OPTIONS) as CommandName[]

/** What every command that changes a key carries: who, as --actor said (else the OS user, in commands.ts). */
interface Change { actor?: string }

export type Command =
  | { command: 'help', topic: HelpTopic }
  | Change & {
    command: 'create',
    config?: string,
    name: string,
    expiresAt: Date | null,
    scopes: string[],
    allowedIps: string[],
    credits?: number,
    creditRefill?: string,
    fields: Record<string, unknown>,
    json: boolean
  }
  | { command: 'list', config?: string, status?: ApiKeyStatus, limit: number, page: number, json: boolean }
  | { command: 'show', config?: string, target: string, json: boolean }
  | Change & { command: 'revoke', config?: string, target: string, yes: boolean }
  | Change & { command: 'rotate', config?: string, target: string, gracePeriod: number, json: boolean }
  | Change & { command: 'disable', config?: string, target: string }
  | Change & { command: 'enable', config?: string, target: string }
  | Change & { command: 'allowed-ips', config?: string, target: string, allowedIps: string[] | null, json: boolean }
  /** Neither credits nor creditRefill: show them; null: unlimited, no refill. */
  | Change & { command: 'credits', config?: string, target: string, credits?: number | null, creditRefill?: string | null, json: boolean }
  | { command: 'usage', config?: string, target: string, from?: Date, to?: Date, json: boolean }
  | { command: 'events', config?: string, target: string, limit: number, before?: number, json: boolean }
  /** unusedFor: --idle's, null without it; expired: --expired, record the expiries */
  | Change & { command: 'sweep', config?: string, unusedFor: number | null, expired: boolean, dryRun: boolean, json: boolean }
  | Change & { command: 'import', config?: string, from: ImportSource, file: string, json: boolean }

type Values = Record<string, string | boolean | string[] | undefined>

const isCommand = (name: string): name is CommandName => NAMES.includes(name as CommandName)

function integer (values: Values, flag: string, fallback: number, max: number): number {
  const value = values[flag] as string | undefined
  if (value === undefined) return fallback
  const n = /^\d+$/.test(value) ? Number(value) : NaN
  if (!(n >= 1 && n <= max)) throw usageError(`Invalid --${flag} ${JSON.stringify(value)}: expected an integer from 1 to ${max}`)
  return n
}

/** `--scope` values, each one scope or a list of them separated by commas or spaces. */
export function parseScopeFlags (values: string[]): string[] {
  const scopes = values.flatMap((value) => value.split(/[\s,]+/)).filter((scope) => scope !== '')
  if (values.length > 0 && scopes.length === 0) throw usageError('Invalid --scope "": expected a scope such as orders:read')
  // The manager checks them too; here the message can name the flag.
  const checked = serializeScopes(scopes)
  if ('problem' in checked) throw usageError(`Invalid --scope: ${checked.problem}`)
  return scopes
}

// A balance, checked as the manager checks it: from 0 (spent) up.
function creditsFlag (values: Values, flag: string): number | undefined {
  const value = values[flag] as string | undefined
  if (value === undefined) return undefined
  const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN
  if (!(n <= MAX_CREDITS)) throw usageError(`Invalid --${flag} ${JSON.stringify(value)}: expected an integer from 0 to ${MAX_CREDITS}`)
  return n
}

// A refill policy as stored; `none` (credits --refill none) removes it.
function refillFlag (values: Values): string | null | undefined {
  const value = values.refill as string | undefined
  if (value === undefined) return undefined
  if (value === 'none') return null
  const checked = readRefill(value)
  if ('problem' in checked) throw usageError(`Invalid --refill: ${checked.problem}`)
  return checked.value as string
}

/** `--ip`/`--allow-ip` values, each one address or range or a list of them, checked as the manager checks them. */
function ipFlags (values: Values, flag: string): string[] {
  const given = (values[flag] ?? []) as string[]
  if (given.length === 0) return []
  const checked = readAllowlist(given.join(' '))
  if ('problem' in checked) throw usageError(`Invalid --${flag}: ${checked.problem}`)
  return (checked.value as string).split(' ')
}

// node:util's messages name the problem but not the way out.
function strictParse (name: CommandName, args: string[]): { values: Values, positionals: string[] } {
  try {
    return parseArgs({ args, options: { ...COMMON, ...OPTIONS[name] }, allowPositionals: true, strict: true }) as { values: Values, positionals: string[] }
  } catch (err) {
    const message = (err as Error).message.split('\n')[0].split('. ')[0]
    throw usageError(`${message} (see '${BIN} ${name} --help')`)
  }
}

/** Reads the command line into one command; bad usage throws with exit code 2. */
export function parseCommand (argv: string[], now: Date): Command {
  // A first, lenient pass finds the command wherever the global options are.
  const loose = parseArgs({ args: argv, options: { ...COMMON, ...Object.assign({}, ...Object.values(OPTIONS)) }, allowPositionals: true, strict: false })
  const [name, ...rest] = loose.positionals
  if (name === undefined) {
    if (loose.values.help === true) return { command: 'help', topic: 'main' }
    throw usageError(`Missing command: ${NAMES.join(', ')} or help (see '${BIN} --help')`)
  }
  if (name === 'help') {
    const topic = rest[0] ?? 'main'
    if (topic !== 'main' && !isCommand(topic)) throw usageError(`Unknown command "${topic}": expected one of ${NAMES.join(', ')}`)
    return { command: 'help', topic }
  }
  if (!isCommand(name)) throw usageError(`Unknown command "${name}": expected one of ${NAMES.join(', ')} or help (see '${BIN} --help')`)
  if (loose.values.help === true) return { command: 'help', topic: name }

  const { values, positionals } = strictParse(name, argv)
  // The strict pass knows fewer options than the lenient one, so it finds the
  // command in the same place or fails first.
  const targets = positionals.slice(1)
  if (targets.length !== TARGETS[name]) {
    if (name === 'import') throw usageError(`import needs the file to read: a CSV or JSON export (see '${BIN} import --help')`)
    throw usageError(TARGETS[name] === 0
      ? `Unexpected argument "${targets[0]}" (see '${BIN} ${name} --help')`
      : `${name} needs one id or prefix (see '${BIN} ${name} --help')`)
  }
  // Only the commands that change a key know --actor: the strict pass refused it elsewhere.
  return { ...commandOf(name, values, targets, now), ...actorFlag(values) }
}

function actorFlag (values: Values): Change {
  const actor = values.actor as string | undefined
  if (actor === undefined) return {}
  // The manager checks it too (length, no key in it); here the message can name the flag.
  if (actor.trim() === '') throw usageError(`Invalid --actor ${JSON.stringify(actor)}: expected who is acting, such as alice@example.com`)
  return { actor }
}

function commandOf (name: CommandName, values: Values, targets: string[], now: Date): Command {
  const config = values.config as string | undefined
  switch (name) {
    case 'create': {
      const keyName = values.name as string | undefined
      if (keyName === undefined || keyName.trim() === '') throw usageError(`create needs --name <name> (see '${BIN} create --help')`)
      const expires = values.expires as string | undefined
      const expiresAt = expires === undefined ? null : parseExpiry(expires, now)
      const scopes = parseScopeFlags((values.scope ?? []) as string[])
      const allowedIps = ipFlags(values, 'allow-ip')
      const credits = creditsFlag(values, 'credits')
      const creditRefill = refillFlag(values) ?? undefined
      if (creditRefill !== undefined && credits === undefined) throw usageError('create --refill needs --credits: a key without credits is unlimited, there is nothing to refill')
      // Only when given: a model without the credits feature has no such columns.
      const limit = credits === undefined ? {} : { credits, ...(creditRefill === undefined ? {} : { creditRefill }) }
      return { command: name, config, name: keyName, expiresAt, scopes, allowedIps, ...limit, fields: parseFields((values.field ?? []) as string[]), json: values.json === true }
    }
    case 'list': {
      const status = values.status as ApiKeyStatus | undefined
      if (status !== undefined && !STATUSES.includes(status)) throw usageError(`Invalid --status "${status}": expected one of ${STATUSES.join(', ')}`)
      return { command: name, config, status, limit: integer(values, 'limit', 20, 500), page: integer(values, 'page', 1, 1_000_000), json: values.json === true }
    }
    case 'show': return { command: name, config, target: targets[0], json: values.json === true }
    case 'revoke': return { command: name, config, target: targets[0], yes: values.yes === true }
    case 'disable': return { command: name, config, target: targets[0] }
    case 'enable': return { command: name, config, target: targets[0] }
    case 'allowed-ips': {
      const ips = ipFlags(values, 'ip')
      if ((ips.length > 0) === (values.anywhere === true)) throw usageError(`allowed-ips needs --ip <cidr> (repeatable) or --anywhere (see '${BIN} allowed-ips --help')`)
      return { command: name, config, target: targets[0], allowedIps: values.anywhere === true ? null : ips, json: values.json === true }
    }
    case 'credits': {
      const json = values.json === true
      if (values.unlimited === true) {
        if (values.set !== undefined || values.refill !== undefined) throw usageError('credits --unlimited removes the limit and its refill: it takes no --set or --refill')
        return { command: name, config, target: targets[0], credits: null, creditRefill: null, json }
      }
      const credits = creditsFlag(values, 'set')
      const creditRefill = refillFlag(values)
      return { command: name, config, target: targets[0], ...(credits === undefined ? {} : { credits }), ...(creditRefill === undefined ? {} : { creditRefill }), json }
    }
    case 'rotate': {
      const grace = values.grace as string | undefined
      return { command: name, config, target: targets[0], gracePeriod: grace === undefined ? 0 : parseGrace(grace), json: values.json === true }
    }
    case 'usage': {
      const from = values.from === undefined ? undefined : parseDate('from', values.from as string)
      const to = values.to === undefined ? undefined : parseDate('to', values.to as string)
      if (from !== undefined && to !== undefined && to.getTime() <= from.getTime()) throw usageError('Invalid --to: the range ends before --from')
      return { command: name, config, target: targets[0], from, to, json: values.json === true }
    }
    case 'events': {
      const before = values.before === undefined ? undefined : integer(values, 'before', 1, Number.MAX_SAFE_INTEGER)
      return { command: name, config, target: targets[0], limit: integer(values, 'limit', 20, 500), before, json: values.json === true }
    }
    case 'sweep': {
      const idle = values.idle as string | undefined
      const expired = values.expired === true
      if (idle === undefined && !expired) throw usageError(`sweep needs --idle <duration>, such as --idle 90d, or --expired (see '${BIN} sweep --help')`)
      return { command: name, config, unusedFor: idle === undefined ? null : parseIdle(idle), expired, dryRun: values['dry-run'] === true, json: values.json === true }
    }
    case 'import': {
      const from = values.from as string | undefined
      if (from === undefined) throw usageError(`import needs --from ${SOURCES.join(' or --from ')} (see '${BIN} import --help')`)
      if (!SOURCES.includes(from as ImportSource)) throw usageError(`Invalid --from ${JSON.stringify(from)}: expected ${SOURCES.join(' or ')}`)
      return { command: name, config, from: from as ImportSource, file: targets[0], json: values.json === true }
    }
  }
}
