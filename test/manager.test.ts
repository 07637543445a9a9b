import t from 'tap'
import { DAY } from './helpers/time.ts'
import { testManager } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'
import { unknownKey, wrongSecret } from './helpers/keys.ts'
import { withMethods } from './helpers/models.ts'

eachDatabase(t, async (t, db) => {
  const manager = testManager(db.prisma.apiKey)
  t.teardown(() => manager.close())

  t.test('create returns the record without its hash and the key once', async (t) => {
    const { apiKey, key } = await manager.create({ name: '  billing service  ' })
    t.match(key, manager.keyPattern)
    t.equal(apiKey.name, 'billing service')
    t.equal(apiKey.revoked, false)
    t.equal(apiKey.expiresAt, null)
    t.equal(apiKey.lastUsedAt, null)
    t.ok(apiKey.createdAt instanceof Date)
    t.notOk('hashedKey' in apiKey)
    t.match(apiKey.id, /^[A-Za-z0-9_-]+$/)
    t.equal(key.slice(0, 8), apiKey.prefix)
    t.notOk('hashedKey' in (await manager.get(apiKey.id) as object))
  })

  t.test('the stored hash is not the key and does not contain it', async (t) => {
    const { apiKey, key } = await manager.create({ name: 'stored' })
    const [row] = await db.query(`SELECT * FROM ${db.provider === 'mysql' ? '`ApiKey`' : '"ApiKey"'} WHERE ${db.provider === 'mysql' ? '`id`' : '"id"'} = '${apiKey.id}'`)
    t.match(row.hashedKey, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    t.not(row.hashedKey, key)
    t.notOk(row.hashedKey.includes(key.slice(9)))
    t.notOk(row.hashedKey.includes(key.slice(9, 9 + 16)))
    for (const value of Object.values(row)) t.notOk(String(value).includes(key), 'no column holds the key')
  })

  t.test('verify says why a key is refused', async (t) => {
    const { apiKey, key } = await manager.create({ name: 'verify' })
    t.same(await manager.verify(key), { valid: true, apiKey })
    t.same(await manager.verify('nope'), { valid: false, reason: 'malformed' })
    t.same(await manager.verify(42), { valid: false, reason: 'malformed' })
    t.same(await manager.verify(unknownKey()), { valid: false, reason: 'unknown' })
    t.same(await manager.verify(wrongSecret(key)), { valid: false, reason: 'wrong_secret' })
    await manager.revoke(apiKey.id)
    t.same(await manager.verify(key), { valid: false, reason: 'revoked' })
    // A key cannot be created expired: this one is expired by an update.
    const expired = await manager.create({ name: 'expired' })
    await manager.update(expired.apiKey.id, { expiresAt: new Date(Date.now() - DAY) })
    t.same(await manager.verify(expired.key), { valid: false, reason: 'expired' })
  })

  t.test('a missing or blank name is a coded error', async (t) => {
    await t.rejects(manager.create({} as any), { code: 'FST_API_KEY_NAME_REQUIRED' })
    await t.rejects(manager.create({ name: '   ' }), { code: 'FST_API_KEY_NAME_REQUIRED' })
    await t.rejects(manager.create({ name: 7 } as any), { code: 'FST_API_KEY_NAME_REQUIRED' })
    await t.rejects(manager.create(null as any), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
  })

  t.test('columns the library owns cannot be set by the caller', async (t) => {
    for (const field of ['id', 'prefix', 'hashedKey', 'createdAt', 'lastUsedAt']) {
      await t.rejects(manager.create({ name: 'x', [field]: 'x' }), { code: 'FST_API_KEY_INVALID_ARGUMENT' }, field)
    }
    await t.rejects(manager.create({ name: 'x', revoked: true }), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
    await t.rejects(manager.create({ name: 'x', expiresAt: 'tomorrow' as any }), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
    await t.rejects(manager.create({ name: 'x', expiresAt: new Date('nope') }), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
  })

  t.test('a key cannot be created expired; an update may expire one now', async (t) => {
    const before = await db.prisma.apiKey.count()
    for (const expiresAt of [new Date(Date.now() - DAY), new Date(Date.now() - 1), new Date(0)]) {
      await t.rejects(manager.create({ name: 'x', expiresAt }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /^Invalid argument expiresAt: .*past/ }, expiresAt.toISOString())
    }
    t.equal(await db.prisma.apiKey.count(), before, 'nothing written')
    const { apiKey, key } = await manager.create({ name: 'ending', expiresAt: new Date(Date.now() + DAY) })
    const ended = await manager.update(apiKey.id, { expiresAt: new Date(Date.now() - 1000) })
    t.equal(manager.status(ended), 'expired', 'update accepts a past expiry: a way to end a key now')
    t.same(await manager.verify(key), { valid: false, reason: 'expired' })
  })

  t.test('a column the model lacks is a coded error with Prisma\'s reason, not a 503', async (t) => {
    await t.rejects(manager.create({ name: 'x', organizationId: 'o1' }), { code: 'FST_API_KEY_QUERY_REFUSED', message: /Unknown argument `organizationId`/ })
  })

  t.test('update changes name and expiry, and revocation is permanent', async (t) => {
    const { apiKey } = await manager.create({ name: 'update me' })
    const later = new Date(Date.now() + 3 * DAY)
    const updated = await manager.update(apiKey.id, { name: ' renamed ', expiresAt: later })
    t.equal(updated.name, 'renamed')
    t.equal(updated.expiresAt?.getTime(), later.getTime())
    t.equal((await manager.update(apiKey.id, { revoked: false })).revoked, false, 'un-revoking an active key changes nothing')
    t.equal((await manager.revoke(apiKey.id)).revoked, true)
    t.equal((await manager.revoke(apiKey.id)).revoked, true, 'revoking twice is harmless')
    await t.rejects(manager.update(apiKey.id, { revoked: false }), { code: 'FST_API_KEY_UNREVOKE' })
    await t.rejects(manager.update(apiKey.id, { revoked: 'no' }), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
    await t.rejects(manager.update(apiKey.id, { hashedKey: 'x' }), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
    await t.rejects(manager.update(apiKey.id, { name: '' }), { code: 'FST_API_KEY_NAME_REQUIRED' })
    await t.rejects(manager.update(apiKey.id, null as any), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
    t.equal((await manager.get(apiKey.id))?.revoked, true)
  })

  t.test('unknown ids', async (t) => {
    t.equal(await manager.get('no-such-id'), null)
    await t.rejects(manager.revoke('no-such-id'), { code: 'FST_API_KEY_NOT_FOUND', statusCode: 404 })
    await t.rejects(manager.get(''), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
    await t.rejects(manager.revoke(undefined as any), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
  })

  t.test('list filters by status and pages', async (t) => {
    const local = testManager(db.prisma.apiKey)
    t.teardown(() => local.close())
    await db.prisma.apiKey.deleteMany({})
    const active = await Promise.all([1, 2, 3].map(async (i) => await local.create({ name: `active ${i}` })))
    const revoked = await local.create({ name: 'revoked' })
    await local.revoke(revoked.apiKey.id)
    const created = await local.create({ name: 'expired' })
    const expired = { apiKey: await local.update(created.apiKey.id, { expiresAt: new Date(Date.now() - DAY) }) }
    await local.create({ name: 'future', expiresAt: new Date(Date.now() + DAY) })

    const all = await local.list()
    t.equal(all.total, 6)
    t.equal(all.items.length, 6)
    for (const item of all.items) t.notOk('hashedKey' in item)
    t.equal((await local.list({ status: 'active' })).total, 4)
    t.same((await local.list({ status: 'revoked' })).items.map((k) => k.id), [revoked.apiKey.id])
    t.same((await local.list({ status: 'expired' })).items.map((k) => k.id), [expired.apiKey.id])
    t.equal(local.status(expired.apiKey), 'expired')
    t.equal(local.status(active[0].apiKey), 'active')

    const page1 = await local.list({ take: 4 })
    const page2 = await local.list({ take: 4, skip: 4 })
    t.equal(page1.items.length, 4)
    t.equal(page2.items.length, 2)
    t.equal(page2.total, 6)
    t.same(new Set([...page1.items, ...page2.items].map((k) => k.id)).size, 6, 'pages do not overlap')

    const named = await local.list({ where: { name: { startsWith: 'active' } } })
    t.same(named.items.map((k) => k.name).sort(), ['active 1', 'active 2', 'active 3'])

    for (const bad of [{ take: 0 }, { take: 501 }, { skip: -1 }, { status: 'gone' }, { where: [] }]) {
      await t.rejects(local.list(bad as any), { code: 'FST_API_KEY_INVALID_ARGUMENT' }, JSON.stringify(bad))
    }
    await t.rejects(local.list('x' as any), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
  })

  t.test('a prefix collision on create is retried, not surfaced', async (t) => {
    let squatted = 0
    let limit = 2
    // The real model, except that before each of the first inserts another
    // writer takes the very prefix that was drawn, as a random collision
    // would: the database refuses the insert.
    const colliding = withMethods(db.prisma.apiKey, {
      create: async (args: { data: { prefix: string } }) => {
        if (squatted < limit) {
          squatted++
          await db.prisma.apiKey.create({ data: { name: 'squatter', prefix: args.data.prefix, hashedKey: 'x' } })
        }
        return await db.prisma.apiKey.create(args as any)
      }
    })
    const local = testManager(colliding)
    t.teardown(() => local.close())
    const { apiKey, key } = await local.create({ name: 'after collisions' })
    t.equal(squatted, 2)
    t.equal(apiKey.name, 'after collisions')
    t.equal((await local.verify(key)).valid, true)

    limit = Infinity
    await t.rejects(local.create({ name: 'always colliding' }), { code: 'FST_API_KEY_PREFIX_EXHAUSTED' })
    t.equal(squatted, 7)
  })

  t.test('a unique violation on another column is the caller\'s to see', async (t) => {
    const { apiKey: existing } = await manager.create({ name: 'existing' })
    const failing = withMethods(db.prisma.apiKey, {
      // As if the user's model had another unique column that the new key repeats.
      create: async (args: { data: { id?: string } }) => await db.prisma.apiKey.create({ ...args, data: { ...args.data, id: existing.id } } as any)
    })
    const local = testManager(failing)
    t.teardown(() => local.close())
    await t.rejects(local.create({ name: 'duplicate id' }), { code: 'P2002' })
  })
})
