import { userInfo } from 'node:os'
import type { ChangeContext } from '../events.js'
import type { ApiKeyManager } from '../manager.js'
import { formatDuration } from '../expiry.js'
import { withStatus } from '../status.js'
import type { ApiKeyRecord } from '../types.js'
import type { Command } from './args.js'
import { CliError, usageError } from './failure.js'
import { formatCredits, formatEvents, formatList, formatRecord, formatUsage, toJson } from './format.js'
import { importKeys } from './import.js'
import type { Io } from './prompt.js'
import { printable } from './table.js'

type Run<C extends Command['command']> = (command: Extract<Command, { command: C }>, manager: ApiKeyManager, io: Io) => Promise<number>

const label = (record: ApiKeyRecord): string => `"${printable(record.name)}" (${record.prefix})`

/** A key by its id, else by its prefix: both are printed by list and show. */
async function find (manager: ApiKeyManager, target: string): Promise<ApiKeyRecord> {
  const byId = await manager.get(target)
  if (byId !== null) return byId
  const { items } = await manager.list({ where: { prefix: target }, take: 1 })
  if (items.length === 0) throw new CliError(`No API key with id or prefix ${JSON.stringify(target)}`)
  return items[0]
}

/**
 * Who made a change, for its event: --actor as given, else the OS user the
 * command runs as ("cli:alice"), which says what acted and for whom.
 */
function changeContext ({ actor }: { actor?: string }, env: NodeJS.ProcessEnv = process.env): ChangeContext {
  if (actor !== undefined) return { actor }
  let user: string | undefined
  try {
    user = userInfo().username
  } catch {
    // No passwd entry (a container's arbitrary uid): the shell's word for it, if any.
    user = env.USER ?? env.LOGNAME
  }
  return { actor: user === undefined || user === '' ? 'cli' : `cli:${user}` }
}

/** The only output that ever holds a plaintext key: after create and rotate. */
function printNewKey (manager: ApiKeyManager, io: Io, { apiKey, key }: { apiKey: ApiKeyRecord, key: string }, json: boolean): void {
  if (json) {
    io.out(toJson({ apiKey: withStatus(apiKey, Date.now()), key }))
  } else {
    io.out(`${key}\n\n${formatRecord(apiKey, manager.status(apiKey))}`)
    io.note('\nThis is the only time the key is shown: store it now, only its hash is kept.')
  }
}

const create: Run<'create'> = async (command, manager, io) => {
  const scopes = command.scopes.length === 0 ? {} : { scopes: command.scopes }
  // Only when given: a model without the ipAllowlist feature has no such column.
  const allowedIps = command.allowedIps.length === 0 ? {} : { allowedIps: command.allowedIps }
  const { credits, creditRefill } = command
  const limit = credits === undefined ? {} : { credits, ...(creditRefill === undefined ? {} : { creditRefill }) }
  printNewKey(manager, io, await manager.create({ ...command.fields, ...scopes, ...allowedIps, ...limit, name: command.name, expiresAt: command.expiresAt }, changeContext(command)), command.json)
  return 0
}

const list: Run<'list'> = async ({ status, limit, page, json }, manager, io) => {
  const { items, total } = await manager.list({ status, take: limit, skip: (page - 1) * limit })
  if (json) {
    io.out(toJson({ items: items.map((record) => withStatus(record, Date.now())), total, page, limit }))
  } else if (items.length === 0) {
    const what = status === undefined ? 'keys' : `${status} keys`
    io.out(total === 0 ? `No ${what}.` : `Page ${page} is past the end: ${total} ${what}, ${limit} a page.`)
  } else {
    const first = (page - 1) * limit + 1
    const last = first + items.length - 1
    io.out(formatList(items.map((record) => ({ record, status: manager.status(record) }))))
    io.note(`\n${first}-${last} of ${total}${last < total ? `; --page ${page + 1} for more` : ''}`)
  }
  return 0
}

const show: Run<'show'> = async ({ target, json }, manager, io) => {
  const record = await find(manager, target)
  io.out(json ? toJson(withStatus(record, Date.now())) : formatRecord(record, manager.status(record)))
  return 0
}

const revoke: Run<'revoke'> = async (command, manager, io) => {
  const { target, yes } = command
  const record = await find(manager, target)
  if (record.revoked) {
    io.out(`Key ${label(record)} was already revoked.`)
    return 0
  }
  if (!yes) {
    if (!io.interactive) throw usageError(`Not revoked: no terminal to confirm on; pass --yes to revoke ${label(record)} without asking`)
    if (!(await io.confirm(`Revoke key ${label(record)}? Requests with it will be refused, and this cannot be undone.`))) {
      io.note('Not revoked.')
      return 1
    }
  }
  await manager.revoke(record.id, changeContext(command))
  io.out(`Revoked key ${label(record)}.`)
  return 0
}

// A revoked key is refused by the manager (FST_API_KEY_NOT_ROTATABLE), whose message says why.
const rotate: Run<'rotate'> = async (command, manager, io) => {
  const { target, gracePeriod, json } = command
  const record = await find(manager, target)
  const rotated = await manager.rotate(record.id, { gracePeriod }, changeContext(command))
  printNewKey(manager, io, rotated, json)
  if (json) return 0
  const { previousKeyExpiresAt, expiresAt } = rotated.apiKey
  io.note(gracePeriod === 0
    ? 'The old secret no longer works: running apps refuse it within about a second with the change feed, ' +
      'without it once their cached copy expires (cacheTtl, 5 seconds by default).'
    : `The old secret keeps working for ${formatDuration(gracePeriod)}, until ${(previousKeyExpiresAt as Date).toISOString()}, then never again.`)
  if (manager.status(rotated.apiKey) === 'expired') {
    io.note(`Note: this key expired at ${(expiresAt as Date).toISOString()}, so apps refuse its new secret as well.`)
  }
  return 0
}

// Reversible, unlike revoke: no confirmation. The manager refuses both
// without `suspension: true` in the config, and enable on a revoked key.
const disable: Run<'disable'> = async (command, manager, io) => {
  const record = await find(manager, command.target)
  if (record.disabled === true) {
    io.out(`Key ${label(record)} was already disabled.`)
    return 0
  }
  await manager.disable(record.id, changeContext(command))
  io.out(`Disabled key ${label(record)}: requests with it are refused until it is enabled.`)
  return 0
}

const enable: Run<'enable'> = async (command, manager, io) => {
  const record = await find(manager, command.target)
  if (record.disabled === false && !record.revoked) {
    io.out(`Key ${label(record)} was not disabled.`)
    return 0
  }
  await manager.enable(record.id, changeContext(command))
  io.out(`Enabled key ${label(record)}.`)
  return 0
}

const allowedIps: Run<'allowed-ips'> = async (command, manager, io) => {
  const { target, allowedIps, json } = command
  const record = await manager.update((await find(manager, target)).id, { allowedIps }, changeContext(command))
  if (json) io.out(toJson(withStatus(record, Date.now())))
  else io.out(allowedIps === null ? `Key ${label(record)} may be used from anywhere.` : `Key ${label(record)} may be used from ${allowedIps.join(', ')} only.`)
  return 0
}

// The database's balance: running apps may hold a block of it reserved (docs/usage.md).
const credits: Run<'credits'> = async (command, manager, io) => {
  const { target, credits, creditRefill, json } = command
  const found = await find(manager, target)
  const changes = { ...(credits === undefined ? {} : { credits }), ...(creditRefill === undefined ? {} : { creditRefill }) }
  const record = Object.keys(changes).length === 0 ? found : await manager.update(found.id, changes, changeContext(command))
  if (json) io.out(toJson(withStatus(record, Date.now())))
  else io.out(typeof record.credits === 'number' ? `Key ${label(record)} has ${formatCredits(record)}.` : `Key ${label(record)} is unlimited.`)
  return 0
}

const usage: Run<'usage'> = async ({ target, from, to, json }, manager, io) => {
  const record = await find(manager, target)
  const periods = await manager.usage(record.id, { from, to })
  if (json) {
    const total = periods.reduce((sum, { count }) => sum + count, 0)
    io.out(toJson({ id: record.id, prefix: record.prefix, total, periods }))
  } else {
    io.out(periods.length === 0 ? `No usage of key ${label(record)} counted in this range.` : formatUsage(periods))
  }
  return 0
}

const events: Run<'events'> = async ({ target, limit, before, json }, manager, io) => {
  const record = await find(manager, target)
  const page = await manager.events(record.id, { take: limit, ...(before === undefined ? {} : { before }) })
  if (json) {
    io.out(toJson({ id: record.id, prefix: record.prefix, events: page.map(({ keyId, prefix, ...event }) => event) }))
  } else if (page.length === 0) {
    io.out(before === undefined ? `No events recorded for key ${label(record)}.` : `No events of key ${label(record)} before ${before}.`)
  } else {
    io.out(formatEvents(page))
    if (page.length === limit) io.note(`\n--before ${page[page.length - 1].id as number} for older events`)
  }
  return 0
}

const plural = (n: number): string => `${n} key${n === 1 ? '' : 's'}`

// Expiries first: a key both expired and idle is told as expired, then revoked.
const sweep: Run<'sweep'> = async (command, manager, io) => {
  const { unusedFor, dryRun, json } = command
  const context = changeContext(command)
  const expired = command.expired ? (await manager.recordExpired({ dryRun }, context)).expired : null
  const revoked = unusedFor === null ? null : (await manager.revokeIdle({ unusedFor, dryRun }, context)).revoked
  const view = (records: ApiKeyRecord[]): object[] => records.map((record) => withStatus(record, Date.now()))
  if (json) {
    io.out(toJson({ ...(revoked === null ? {} : { revoked: view(revoked) }), ...(expired === null ? {} : { expired: view(expired) }), dryRun }))
    return 0
  }
  const table = (records: ApiKeyRecord[]): void => { io.out(formatList(records.map((record) => ({ record, status: manager.status(record) })))) }
  if (expired !== null && expired.length === 0) io.out('No newly expired keys.')
  if (expired !== null && expired.length > 0) {
    io.out(`${dryRun ? 'Would record' : 'Recorded'} the expiry of ${plural(expired.length)}:`)
    table(expired)
  }
  if (revoked !== null && revoked.length === 0) io.out('No idle keys.')
  if (revoked !== null && revoked.length > 0) {
    io.out(`${dryRun ? 'Would revoke' : 'Revoked'} ${plural(revoked.length)}:`)
    table(revoked)
  }
  return 0
}

export async function runCommand (command: Exclude<Command, { command: 'help' }>, manager: ApiKeyManager, io: Io): Promise<number> {
  switch (command.command) {
    case 'create': return await create(command, manager, io)
    case 'list': return await list(command, manager, io)
    case 'show': return await show(command, manager, io)
    case 'revoke': return await revoke(command, manager, io)
    case 'rotate': return await rotate(command, manager, io)
    case 'disable': return await disable(command, manager, io)
    case 'enable': return await enable(command, manager, io)
    case 'allowed-ips': return await allowedIps(command, manager, io)
    case 'credits': return await credits(command, manager, io)
    case 'usage': return await usage(command, manager, io)
    case 'events': return await events(command, manager, io)
    case 'sweep': return await sweep(command, manager, io)
    case 'import': return await importKeys(command, manager, io, changeContext(command))
  }
}
