// Every way the CLI can fail, reduced to one line and an exit code: users see
// what went wrong and what to do, never a stack trace.
const EXIT_FAILURE = 1
const EXIT_USAGE = 2

export class CliError extends Error {
  readonly exitCode: number

  constructor (message: string, exitCode: number = EXIT_FAILURE) {
    super(message)
    this.exitCode = exitCode
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT_USAGE)

// The library's errors that mean the command line or the config asked for
// something impossible, as opposed to a failure of the database or the key.
const USAGE_CODES = new Set(['FST_API_KEY_INVALID_ARGUMENT', 'FST_API_KEY_NAME_REQUIRED', 'FST_API_KEY_INVALID_OPTION', 'FST_API_KEY_FEATURE_OFF',
  'FST_API_KEY_LIFETIME_EXCEEDED'])

// Prisma's connection codes (P1xxx) and the driver's socket errors, for when
// the config's own code reaches the database before the library does.
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN'])

interface ErrorLike {
  name?: unknown
  code?: unknown
  message?: unknown
  cause?: unknown
}

export function isConnectionError (err: unknown): boolean {
  const { name, code } = (err ?? {}) as ErrorLike
  if (code === 'FST_API_KEY_UNAVAILABLE' || name === 'PrismaClientInitializationError') return true
  return typeof code === 'string' && (/^P1\d{3}$/.test(code) || SOCKET_CODES.has(code))
}

function lines (err: unknown): string[] {
  const message = (err as ErrorLike)?.message
  const text = typeof message === 'string' ? message : String(err)
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '')
}

// Prisma puts the query first and the reason last; everyone else leads with it.
function oneLine (err: unknown): string {
  const all = lines(err)
  const name = (err as ErrorLike)?.name
  if (typeof name === 'string' && name.startsWith('Prisma')) {
    // The pointer refers to the query dump that a one-line message leaves out.
    return (all.at(-1) ?? name).replace(/ Available options are marked with \?\.$/, '')
  }
  return all[0] ?? 'unknown error'
}

// The innermost cause says why (refused, timed out, unknown host).
function rootCause (err: unknown): unknown {
  let current = err
  while ((current as ErrorLike)?.cause !== undefined && lines((current as ErrorLike).cause).length > 0) {
    current = (current as ErrorLike).cause
  }
  return current
}

export function describeError (err: unknown): { message: string, exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode }
  if (isConnectionError(err)) {
    return { message: `Could not reach the database: ${oneLine(rootCause(err))}`, exitCode: EXIT_FAILURE }
  }
  const code = (err as ErrorLike)?.code
  return { message: oneLine(err), exitCode: USAGE_CODES.has(code as string) ? EXIT_USAGE : EXIT_FAILURE }
}
