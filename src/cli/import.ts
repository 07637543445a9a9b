import { readFile } from 'node:fs/promises'
import type { ChangeContext } from '../events.js'
import type { ApiKeyManager } from '../manager.js'
import type { Command } from './args.js'
import { CliError, describeError, usageError } from './failure.js'
import { toJson } from './format.js'
import { formatOf, readImportFile, type ImportRow, type RowPlace } from './import-file.js'
import type { Io } from './prompt.js'
import { printable } from './table.js'

type ImportCommand = Extract<Command, { command: 'import' }>

interface Refusal {
  at: RowPlace
  prefix: string | null
  reason: string
}

// What is wrong with one row, not with the run: the row is refused, the
// others go on. Anything else (the database, the config) stops the run.
const ROW_CODES = new Set(['FST_API_KEY_INVALID_ARGUMENT', 'FST_API_KEY_NAME_REQUIRED', 'FST_API_KEY_IMPORT_HASH', 'FST_API_KEY_IMPORT_CONFLICT'])

const place = (at: RowPlace): string => 'line' in at ? `line ${at.line}` : `entry ${at.entry}`
const keys = (n: number): string => `${n} key${n === 1 ? '' : 's'}`

async function readText (file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${describeError(err).message}`)
  }
}

/**
 * The keys of an exported table, one importKey each, in file order. Idempotent:
 * a prefix imported before is skipped. The file's id column (drf-api-key's
 * holds the hash) and its hashes are never printed. `context`: who imports,
 * for each key's created event.
 */
export async function importKeys ({ from, file, json }: ImportCommand, manager: ApiKeyManager, io: Io, context: ChangeContext): Promise<number> {
  if (!manager.features.importedKeys) {
    throw usageError('import needs importedKeys: true in the config, as the app needs it to accept the imported keys (docs/migrating.md)')
  }
  const text = await readText(file)
  const rows = readImportFile(text, formatOf(file, text))
  let imported = 0
  let skipped = 0
  const refused: Refusal[] = []
  const refuse = (row: ImportRow, reason: string): void => { refused.push({ at: row.at, prefix: row.prefix, reason }) }
  for (const [i, row] of rows.entries()) {
    io.progress(i, rows.length)
    if (row.input === undefined) {
      refuse(row, row.problem as string)
      continue
    }
    try {
      if ((await manager.importKey({ ...row.input, from }, context)).imported) imported++
      else skipped++
    } catch (err) {
      if (!ROW_CODES.has((err as { code?: string }).code as string)) {
        io.progress(rows.length, rows.length)
        throw new CliError(`Stopped at ${place(row.at)}: ${describeError(err).message} (imported ${imported}, skipped ${skipped} before it; a re-run skips them)`)
      }
      // The import errors name the prefix first: it is printed beside the reason already.
      refuse(row, (err as Error).message.replace(`Cannot import the key ${row.prefix as string}: `, ''))
    }
  }
  io.progress(rows.length, rows.length)
  if (json) {
    io.out(toJson({ imported, skipped, refused: refused.map(({ at, prefix, reason }) => ({ ...at, prefix, reason })) }))
  } else {
    io.out(`Imported ${keys(imported)} from ${from}; skipped ${skipped} imported before${refused.length === 0 ? '.' : `; refused ${refused.length}:`}`)
    for (const { at, prefix, reason } of refused) io.out(`  ${place(at)}${prefix === null ? '' : ` (${printable(prefix)})`}: ${printable(reason)}`)
    if (imported > 0) io.note('Apps with importedKeys: true accept them now; each is re-hashed with scrypt on its first use.')
  }
  return refused.length === 0 ? 0 : 1
}
