import { errors } from './errors.js'

// Checks shared by the surfaces that take values from callers.

/** A wrong option: FST_API_KEY_INVALID_OPTION naming it, thrown at register. */
export function fail (name: string, message: string): never {
  throw new errors.INVALID_OPTION(name, message)
}

// An object literal (or Object.create(null)): not an array, a Date, a class instance.
export function isPlainObject (value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Refuses any option not in `known`, listing the known ones. */
export function checkKnown (opts: Record<string, unknown>, known: readonly string[], refuse: (name: string, message: string) => never): void {
  for (const name of Object.keys(opts)) {
    if (opts[name] !== undefined && !known.includes(name)) refuse(name, `unknown option, expected one of ${known.join(', ')}`)
  }
}

/** A caller passed a wrong value: FST_API_KEY_INVALID_ARGUMENT naming it. */
export function badArgument (name: string, message: string): never {
  throw new errors.INVALID_ARGUMENT(name, message)
}
