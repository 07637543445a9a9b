import t from 'tap'
import { errors } from '../src/errors.ts'
import { CliError, describeError, isConnectionError, usageError } from '../src/cli/failure.ts'

t.test('the CLI own errors keep their exit code', async (t) => {
  t.same(describeError(usageError('bad flag')), { message: 'bad flag', exitCode: 2 })
  t.same(describeError(new CliError('no such key')), { message: 'no such key', exitCode: 1 })
})

t.test('an unreachable database, whoever noticed it', async (t) => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  const unavailable = new errors.UNAVAILABLE({ cause: new Error('DriverAdapterError\n', { cause: refused }) })
  t.same(describeError(unavailable), { message: 'Could not reach the database: connect ECONNREFUSED 127.0.0.1:1', exitCode: 1 })
  t.same(describeError(new errors.UNAVAILABLE()), { message: 'Could not reach the database: API key store is unavailable, try again later', exitCode: 1 })
  t.same(describeError(new errors.UNAVAILABLE({ cause: new Error('') })), { message: 'Could not reach the database: API key store is unavailable, try again later', exitCode: 1 }, 'an empty cause says nothing')
  const init = Object.assign(new Error('\nCan\'t reach database server at `db:5432`\n'), { name: 'PrismaClientInitializationError' })
  t.same(describeError(init), { message: 'Could not reach the database: Can\'t reach database server at `db:5432`', exitCode: 1 })
  for (const code of ['P1001', 'P1017', 'ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT']) t.ok(isConnectionError({ code }), code)
  for (const err of [{ code: 'P2002' }, { code: 'EACCES' }, { code: 42 }, new Error('x'), null, undefined, 'text']) t.notOk(isConnectionError(err), String(err))
})

t.test('the library errors: usage or failure', async (t) => {
  t.same(describeError(new errors.INVALID_ARGUMENT('id', 'is set by the library and cannot be given')), { message: 'Invalid argument id: is set by the library and cannot be given', exitCode: 2 })
  t.same(describeError(new errors.NAME_REQUIRED()), { message: 'An API key needs a non-empty name', exitCode: 2 })
  t.same(describeError(new errors.INVALID_OPTION('brand', 'use 1 to 32 characters')), { message: 'Invalid option brand: use 1 to 32 characters', exitCode: 2 })
  t.same(describeError(new errors.NOT_FOUND('k1')), { message: 'No API key with id k1', exitCode: 1 })
})

t.test('anything else: one line, no stack', async (t) => {
  const validation = Object.assign(new Error('\nInvalid `prisma.apiKey.create()` invocation:\n\n{\n  data: {}\n}\n\nUnknown argument `orgId`. Available options are marked with ?.'), { name: 'PrismaClientValidationError' })
  t.same(describeError(validation), { message: 'Unknown argument `orgId`.', exitCode: 1 })
  t.same(describeError(Object.assign(new Error(''), { name: 'PrismaClientUnknownRequestError' })), { message: 'PrismaClientUnknownRequestError', exitCode: 1 })
  t.same(describeError(new TypeError('first line\nsecond line')), { message: 'first line', exitCode: 1 })
  t.same(describeError(new Error('')), { message: 'unknown error', exitCode: 1 })
  t.same(describeError('thrown text'), { message: 'thrown text', exitCode: 1 })
  t.same(describeError(undefined), { message: 'undefined', exitCode: 1 })
})
