import { errors } from './errors.js'

// Checks shared by the surfaces that take values from callers.

/** A caller passed a wrong value: FST_API_KEY_INVALID_ARGUMENT naming it. */
export function badArgument (name: string, message: string): never {
  throw new errors.INVALID_ARGUMENT(name, message)
}
