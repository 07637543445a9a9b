import { usageError } from './failure.js'

const FIELD = /^([A-Za-z_][A-Za-z0-9_]*)(:?)=(.*)$/s
// Set through their own flags, so that a key's name is never ambiguous.
const OWN_FLAGS: Record<string, string> = { name: '--name', expiresAt: '--expires', scopes: '--scope' }

/**
 * `--field name=value` sets a string column of a custom model;
 * `--field name:=json` sets any other type (42, true, null, "text").
 */
export function parseFields (specs: string[]): Record<string, unknown> {
  // A Map, then fromEntries: a field named __proto__ stays a plain (and refused by Prisma) column name.
  const fields = new Map<string, unknown>()
  for (const spec of specs) {
    const match = FIELD.exec(spec)
    if (match === null) throw usageError(`Invalid --field ${JSON.stringify(spec)}: expected name=value, or name:=<JSON> for numbers, booleans and null`)
    const [, name, json, value] = match
    if (Object.hasOwn(OWN_FLAGS, name)) throw usageError(`Invalid --field ${name}: use ${OWN_FLAGS[name]}`)
    if (fields.has(name)) throw usageError(`Invalid --field ${name}: given twice`)
    fields.set(name, json === '' ? value : parseJson(name, value))
  }
  return Object.fromEntries(fields)
}

function parseJson (name: string, value: string): unknown {
  try {
    return JSON.parse(value)
  } catch {
    throw usageError(`Invalid --field ${name}:=${value}: not JSON (quote strings: ${name}:='"text"', or use ${name}=text)`)
  }
}
