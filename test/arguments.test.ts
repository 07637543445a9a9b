// Every public function given wrong types or values fails at the call with a
// coded error that says what to do (plugin and admin options: options.test.ts
// and admin.test.ts). Nothing is written by a refused call.
import t from 'tap'
import { apiKeySecurityScheme, hasScope, keyPattern } from '../src/index.ts'
import { testManager } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'

const db = await openDatabase('sqlite')
t.teardown(() => db.close())
const manager = testManager(db.prisma.apiKey)
t.teardown(() => manager.close())
const { apiKey } = await manager.create({ name: 'existing' })

const WRONG_VALUES: unknown[] = [undefined, null, 0, 42, -1, 1.5, NaN, '', ' ', 'x', true, [], {}, () => {}, Symbol('s'), 10n, new Date(NaN)]
const describe = (value: unknown): string => typeof value === 'symbol' ? 'a symbol' : typeof value === 'bigint' ? `${value}n` : typeof value === 'function' ? 'a function' : JSON.stringify(value) ?? String(value)

// [call, the values it must refuse]
const calls: Array<[string, (value: any) => Promise<unknown>, (value: unknown) => boolean]> = [
  ['create(value)', async (v) => await manager.create(v), () => true],
  ['create({ name: value })', async (v) => await manager.create({ name: v }), (v) => typeof v !== 'string' || v.trim() === ''],
  ['create({ name, expiresAt: value })', async (v) => await manager.create({ name: 'n', expiresAt: v }), (v) => v !== undefined && v !== null && !(v instanceof Date && !Number.isNaN(v.getTime()))],
  ['create({ name, scopes: value })', async (v) => await manager.create({ name: 'n', scopes: v }), (v) => v !== undefined && !(Array.isArray(v) && v.length === 0)],
  ['get(value)', async (v) => await manager.get(v), (v) => typeof v !== 'string' || v === ''],
  ['list(value)', async (v) => await manager.list(v), (v) => v !== undefined && !(typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date))],
  ['list({ take: value })', async (v) => await manager.list({ take: v }), (v) => v !== undefined && !(Number.isInteger(v) && (v as number) >= 1)],
  ['list({ skip: value })', async (v) => await manager.list({ skip: v }), (v) => v !== undefined && !(Number.isInteger(v) && (v as number) >= 0)],
  ['list({ status: value })', async (v) => await manager.list({ status: v }), (v) => v !== undefined],
  ['list({ where: value })', async (v) => await manager.list({ where: v }), (v) => v !== undefined && !(typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date))],
  ['update(value, {})', async (v) => await manager.update(v, {}), (v) => typeof v !== 'string' || v === ''],
  ['update(id, value)', async (v) => await manager.update(apiKey.id, v), (v) => !(typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date))],
  ['update(id, { revoked: value })', async (v) => await manager.update(apiKey.id, { revoked: v }), (v) => v !== undefined && typeof v !== 'boolean'],
  ['revoke(value)', async (v) => await manager.revoke(v), (v) => typeof v !== 'string' || v === ''],
  ['rotate(value)', async (v) => await manager.rotate(v), (v) => typeof v !== 'string' || v === ''],
  ['rotate(id, value)', async (v) => await manager.rotate(apiKey.id, v), (v) => v !== undefined && !(typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date))],
  ['rotate(id, { gracePeriod: value })', async (v) => await manager.rotate(apiKey.id, { gracePeriod: v }), (v) => v !== undefined && !(Number.isInteger(v) && (v as number) >= 0)],
  ['status(value)', async (v) => manager.status(v), () => true],
  ['hasScope(value, scope)', async (v) => hasScope(v, 'orders:read'), () => true],
  ['hasScope(apiKey, value)', async (v) => hasScope(apiKey, v), (v) => !(typeof v === 'string' && /^[a-z]+$/.test(v))],
  ['keyPattern(value)', async (v) => keyPattern(v), (v) => v !== undefined && v !== '' && v !== 'x'],
  ['apiKeySecurityScheme(value)', async (v) => apiKeySecurityScheme(v), (v) => v !== undefined && !(typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date))]
]

for (const [name, call, refuses] of calls) {
  t.test(name, async (t) => {
    for (const value of WRONG_VALUES) {
      if (!refuses(value)) continue
      const before = await db.prisma.apiKey.count()
      let error: any = null
      try {
        await call(value)
      } catch (err) {
        error = err
      }
      t.match(error, { code: /^FST_API_KEY_(INVALID_ARGUMENT|NAME_REQUIRED|INVALID_OPTION)$/ }, `${describe(value)}: ${error?.message ?? 'no error'}`)
      t.ok(error?.message.length > 20, 'the message says what to give')
      t.equal(await db.prisma.apiKey.count(), before, 'nothing written')
    }
  })
}

t.test('a closed manager refuses with a coded error', async (t) => {
  const closed = testManager(db.prisma.apiKey)
  const { key } = await closed.create({ name: 'before close' })
  await closed.close()
  await t.rejects(closed.create({ name: 'after close' }), { code: 'FST_API_KEY_CLOSED' })
  await t.rejects(closed.verify(key), { code: 'FST_API_KEY_CLOSED' })
  await t.rejects(closed.rotate(apiKey.id), { code: 'FST_API_KEY_CLOSED' })
})
