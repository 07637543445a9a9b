import type { ApiKeyManager } from '../manager.js'
import type { ApiKeyStatus } from '../status.js'
import type { ApiKeyRecord } from '../store.js'
import type { Command } from './args.js'
import { CliError, usageError } from './failure.js'
import { formatList, formatRecord, toJson } from './format.js'
import type { Io } from './prompt.js'
import { printable } from './table.js'

type Run<C extends Command['command']> = (command: Extract<Command, { command: C }>, manager: ApiKeyManager, io: Io) => Promise<number>

const withStatus = (manager: ApiKeyManager, record: ApiKeyRecord): ApiKeyRecord & { status: ApiKeyStatus } =>
  ({ ...record, status: manager.status(record) })

const label = (record: ApiKeyRecord): string => `"${printable(record.name)}" (${record.prefix})`

/** A key by its id, else by its prefix: both are printed by list and show. */
async function find (manager: ApiKeyManager, target: string): Promise<ApiKeyRecord> {
  const byId = await manager.get(target)
  if (byId !== null) return byId
  const { items } = await manager.list({ where: { prefix: target }, take: 1 })
  if (items.length === 0) throw new CliError(`No API key with id or prefix ${JSON.stringify(target)}`)
  return items[0]
}

const create: Run<'create'> = async (command, manager, io) => {
  const { apiKey, key } = await manager.create({ ...command.fields, name: command.name, expiresAt: command.expiresAt })
  if (command.json) {
    io.out(toJson({ apiKey: withStatus(manager, apiKey), key }))
  } else {
    io.out(`${key}\n\n${formatRecord(apiKey, manager.status(apiKey))}`)
    io.note('\nThis is the only time the key is shown: store it now, only its hash is kept.')
  }
  return 0
}

const list: Run<'list'> = async ({ status, limit, page, json }, manager, io) => {
  const { items, total } = await manager.list({ status, take: limit, skip: (page - 1) * limit })
  if (json) {
    io.out(toJson({ items: items.map((record) => withStatus(manager, record)), total, page, limit }))
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
  io.out(json ? toJson(withStatus(manager, record)) : formatRecord(record, manager.status(record)))
  return 0
}

const revoke: Run<'revoke'> = async ({ target, yes }, manager, io) => {
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
  await manager.revoke(record.id)
  io.out(`Revoked key ${label(record)}.`)
  return 0
}

export async function runCommand (command: Exclude<Command, { command: 'help' }>, manager: ApiKeyManager, io: Io): Promise<number> {
  switch (command.command) {
    case 'create': return await create(command, manager, io)
    case 'list': return await list(command, manager, io)
    case 'show': return await show(command, manager, io)
    case 'revoke': return await revoke(command, manager, io)
  }
}
