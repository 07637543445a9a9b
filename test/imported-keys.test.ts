// Keys imported from djangorestframework-api-key and SHA-256 systems
// (docs/migrating.md), through real HTTP: their hashes verify with
// `importedKeys: true` and are replaced by scrypt on first use; their formats
// are accepted for imported rows only; without the option nothing of theirs is.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin, { type ApiKeyEvent } from '../src/index.ts'
import { reasonOf } from '../src/store.ts'
import { auth, buildApp, testManager } from './helpers/app.ts'
import { eachDatabase, type TestDatabase } from './helpers/databases.ts'
import { withMethods } from './helpers/models.ts'
import { djangoPbkdf2, drfKey, drfSha512, sha256 } from './helpers/legacy.ts'

/** The stored hash, read past the library (which never returns it). */
async function hashOf (db: TestDatabase, prefix: string): Promise<string> {
  return (await db.prisma.apiKey.findUniqueOrThrow({ where: { prefix } })).hashedKey
}

/** Waits for the background re-hash (a compare-and-set after the reply). */
async function upgraded (db: TestDatabase, prefix: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const hash = await hashOf(db, prefix)
    if (hash.startsWith('$scrypt$')) return hash
    await sleep(10)
  }
  return await hashOf(db, prefix)
}

const CREATED = new Date('2024-03-01T10:00:00.000Z')

eachDatabase(t, async (t, db) => {
  const heard: ApiKeyEvent[] = []
  const app = await buildApp(db, { importedKeys: true, onEvent: (event) => { heard.push(event) } })
  t.teardown(() => app.close())
  const manager = app.apiKeys
  const call = async (key: string): Promise<{ statusCode: number, code?: string, id?: string }> => {
    const response = await app.inject({ url: '/protected', headers: auth(key) })
    const body = response.json()
    return { statusCode: response.statusCode, code: body.code, id: body.apiKey?.id }
  }

  await t.test('a drf-api-key sha512 key works, is upgraded to scrypt on first use, and keeps working', async (t) => {
    const { prefix, key } = drfKey()
    const { apiKey, imported } = await manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: 'billing', createdAt: CREATED })
    t.equal(imported, true)
    t.match(apiKey, { prefix, name: 'billing', importedFrom: 'drf-api-key', revoked: false, expiresAt: null, createdAt: CREATED, scopes: '' })
    t.notOk('hashedKey' in apiKey, 'no hash in the record')
    const event = heard.find((event) => event.keyId === apiKey.id)
    t.match(event, { type: 'created', prefix, details: { importedFrom: 'drf-api-key' } })
    t.notOk(JSON.stringify(event).includes(drfSha512(key).slice(8)), 'no hash in the event')

    t.match(await call(`${prefix}.${'x'.repeat(32)}`), { statusCode: 401, code: 'FST_API_KEY_INVALID' }, 'a wrong secret')
    t.match(await call(key), { statusCode: 200, id: apiKey.id })
    const hash = await upgraded(db, prefix)
    t.match(hash, /^\$scrypt\$ln=10,r=8,p=1\$/, 'replaced by scrypt')
    t.match(await call(key), { statusCode: 200, id: apiKey.id }, 'the key still works')
    t.match(await call(`${prefix}.${'x'.repeat(32)}`), { statusCode: 401, code: 'FST_API_KEY_INVALID' })
    t.equal((await manager.get(apiKey.id))?.importedFrom, 'drf-api-key', 'the history stays')

    const again = await manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: 'billing', createdAt: CREATED })
    t.match(again, { imported: false, apiKey: { id: apiKey.id } }, 'importing it again skips it')
    t.equal(await hashOf(db, prefix), hash, 'and leaves the upgraded hash be')
  })

  await t.test('a Django pbkdf2_sha256 key (drf-api-key before 3.0) works and is upgraded', async (t) => {
    const { prefix, key } = drfKey()
    const expiresAt = new Date(Date.now() + 86_400_000)
    const { apiKey } = await manager.importKey({ from: 'drf-api-key', prefix, hashedKey: djangoPbkdf2(key, randomBytes(9).toString('base64url'), 2000), name: 'old', expiresAt })
    t.same(apiKey.expiresAt, expiresAt)
    t.match(await call(`${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`), { statusCode: 401, code: 'FST_API_KEY_INVALID' })
    t.match(await call(key), { statusCode: 200, id: apiKey.id })
    t.match(await upgraded(db, prefix), /^\$scrypt\$/)
    t.match(await call(key), { statusCode: 200, id: apiKey.id })
  })

  await t.test('SHA-256 keys of other formats, hex and base64url', async (t) => {
    for (const encoding of ['hex', 'base64url'] as const) {
      const prefix = `sk_live_${randomBytes(4).toString('hex')}`
      const key = `${prefix}.${randomBytes(30).toString('base64url')}`
      const { apiKey } = await manager.importKey({ from: 'sha256', prefix, hashedKey: sha256(key, encoding), name: encoding, scopes: ['orders:read'] })
      t.equal(apiKey.scopes, 'orders:read')
      t.match(await call(`${key}x`), { statusCode: 401, code: 'FST_API_KEY_INVALID' }, encoding)
      t.match(await call(key), { statusCode: 200, id: apiKey.id }, encoding)
      t.match(await upgraded(db, prefix), /^\$scrypt\$/)
      t.match(await call(key), { statusCode: 200, id: apiKey.id })
    }
  })

  await t.test('a revoked or expired drf key is imported as such, and refused', async (t) => {
    const revoked = drfKey()
    const { apiKey } = await manager.importKey({ from: 'drf-api-key', prefix: revoked.prefix, hashedKey: drfSha512(revoked.key), name: 'gone', revoked: true })
    t.equal(apiKey.revoked, true)
    t.match(await call(revoked.key), { statusCode: 401, code: 'FST_API_KEY_REVOKED' })
    await t.rejects(manager.update(apiKey.id, { revoked: false }), { code: 'FST_API_KEY_UNREVOKE' }, 'permanently')
    const expired = drfKey()
    await manager.importKey({ from: 'drf-api-key', prefix: expired.prefix, hashedKey: drfSha512(expired.key), name: 'old', expiresAt: new Date('2025-01-01T00:00:00Z') })
    t.match(await call(expired.key), { statusCode: 401, code: 'FST_API_KEY_EXPIRED' })
  })

  await t.test('the loose format is for imported rows only: the library\'s own keys never go loose', async (t) => {
    const { apiKey, key } = await manager.create({ name: 'ours' })
    t.match(await call(key), { statusCode: 200, id: apiKey.id })
    // The row's prefix, a secret in another format: answered as an unknown prefix is.
    t.match(await call(`${apiKey.prefix}.${key.slice(9, -6)}`), { statusCode: 401, code: 'FST_API_KEY_INVALID' })
    t.match(await call(`${apiKey.prefix}.not-our-format-at-all`), { statusCode: 401, code: 'FST_API_KEY_INVALID' })
    // One of ours with a wrong checksum: malformed, as without the option.
    t.match(await call(`${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`), { statusCode: 401, code: 'FST_API_KEY_MALFORMED' })
    for (const bad of ['nodot', '.secret-only', 'prefix.short', `${'p'.repeat(65)}.longer-secret`, 'pre fix.long-enough-secret', 'prefix.secret with spaces']) {
      t.match(await call(bad), { statusCode: 401, code: 'FST_API_KEY_MALFORMED' }, bad)
    }
    t.match(await call(`${drfKey().prefix}.${'y'.repeat(32)}`), { statusCode: 401, code: 'FST_API_KEY_INVALID' }, 'a loose key of no row')
  })

  await t.test('importKey refuses what it could never verify, and never takes a prefix of the library\'s own keys', async (t) => {
    const { prefix, key } = drfKey()
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: sha256(key, 'hex'), name: 'x' }), {
      code: 'FST_API_KEY_IMPORT_HASH', message: `Cannot import the key ${prefix}: its hash is not one of drf-api-key's (sha512$$<hex> or pbkdf2_sha256$<iterations>$<salt>$<hash>)`
    })
    await t.rejects(manager.importKey({ from: 'sha256', prefix, hashedKey: drfSha512(key), name: 'x' }), { code: 'FST_API_KEY_IMPORT_HASH' })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: 'argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA', name: 'x' }), { code: 'FST_API_KEY_IMPORT_HASH' })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: key, name: 'x' }), { code: 'FST_API_KEY_IMPORT_HASH' }, 'a plaintext key is no hash')
    await t.rejects(manager.importKey({ from: 'sha256', prefix, hashedKey: 42 as unknown as string, name: 'x' }), { code: 'FST_API_KEY_IMPORT_HASH' })
    await t.rejects(manager.importKey({ from: 'md5' as 'sha256', prefix, hashedKey: drfSha512(key), name: 'x' }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /from: expected 'drf-api-key' or 'sha256'/ })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix: 'bad prefix', hashedKey: drfSha512(key), name: 'x' }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /prefix/ })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: '' }), { code: 'FST_API_KEY_NAME_REQUIRED' })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key) } as never), { code: 'FST_API_KEY_NAME_REQUIRED' })
    await t.rejects(manager.importKey([] as never), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /^Invalid argument input/ })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: 'x', revoked: 'f' as unknown as boolean }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /revoked/ })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: 'x', createdAt: new Date(NaN) }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /createdAt/ })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: 'x', importedFrom: 'sha256' }), { code: 'FST_API_KEY_INVALID_ARGUMENT', message: /importedFrom/ })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: 'x', expiresAt: 'soon' as unknown as Date }), { code: 'FST_API_KEY_INVALID_ARGUMENT' })
    const ours = await manager.create({ name: 'ours' })
    await t.rejects(manager.importKey({ from: 'drf-api-key', prefix: ours.apiKey.prefix, hashedKey: drfSha512(key), name: 'x' }), {
      code: 'FST_API_KEY_IMPORT_CONFLICT', message: `Cannot import the key ${ours.apiKey.prefix}: a key issued here has that prefix`
    })
    t.equal(await db.prisma.apiKey.count({ where: { prefix } }), 0, 'nothing written')
  })

  await t.test('two runs at once, and a collation that ignores case', async (t) => {
    const { prefix, key } = drfKey()
    const input = { from: 'drf-api-key' as const, prefix, hashedKey: drfSha512(key), name: 'raced' }
    const { apiKey } = await manager.importKey(input)
    // Another run inserted it between this one's look and its insert.
    let looked = false
    const late = testManager(withMethods(db.prisma.apiKey, {
      findUnique: async (args) => { if (looked) return await db.prisma.apiKey.findUnique(args); looked = true; return null }
    }), { importedKeys: true })
    t.teardown(() => late.close())
    t.match(await late.importKey(input), { imported: false, apiKey: { id: apiKey.id } })
    // An insert that fails otherwise, or a duplicate gone by the time it is looked for: the error stands.
    const failing = (err: Error): ReturnType<typeof testManager> => testManager(withMethods(db.prisma.apiKey, {
      findUnique: async () => null, create: async () => { throw err }
    }), { importedKeys: true })
    const down = failing(new Error('connection reset'))
    const vanished = failing(Object.assign(new Error('duplicate'), { code: 'P2002' }))
    t.teardown(async () => { await down.close(); await vanished.close() })
    await t.rejects(down.importKey({ ...input, prefix: 'zzzzzzzz' }), { code: 'FST_API_KEY_UNAVAILABLE' })
    await t.rejects(vanished.importKey({ ...input, prefix: 'zzzzzzzz' }), { code: 'P2002' })
    const other = { ...input, prefix: prefix.toLowerCase() === prefix ? prefix.toUpperCase() : prefix.toLowerCase() }
    if (db.provider === 'mysql') {
      await t.rejects(manager.importKey(other), { code: 'FST_API_KEY_IMPORT_CONFLICT', message: `Cannot import the key ${other.prefix}: the database takes it for ${prefix}, another key's (a case-insensitive collation)` })
    } else {
      t.match(await manager.importKey(other), { imported: true, apiKey: { prefix: other.prefix } }, 'prefixes differing in case are two keys')
    }
  })

  await t.test('rotating an imported key gives it a key of the library\'s format; the old one works through the grace period', async (t) => {
    const { prefix, key } = drfKey()
    const { apiKey } = await manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: 'rotated' })
    const rotated = await manager.rotate(apiKey.id, { gracePeriod: 60_000 })
    t.match(rotated.key, manager.keyPattern)
    t.match(await call(rotated.key), { statusCode: 200, id: apiKey.id })
    t.match(await call(key), { statusCode: 200, id: apiKey.id }, 'the drf key, still legacy-hashed, within the grace period')
    const other = `sk_${randomBytes(4).toString('hex')}`
    const sha = await manager.importKey({ from: 'sha256', prefix: other, hashedKey: sha256(`${other}.secret-of-theirs`, 'hex'), name: 'theirs' })
    await t.rejects(manager.rotate(sha.apiKey.id), { code: 'FST_API_KEY_IMPORTED_PREFIX' }, 'a prefix of another shape cannot take a key of ours')
  })

  await t.test('without importedKeys, nothing of theirs is accepted', async (t) => {
    const { prefix, key } = drfKey()
    await manager.importKey({ from: 'drf-api-key', prefix, hashedKey: drfSha512(key), name: 'unused' })
    // A SHA-256 hash of a key in the library's own format: only the hash is legacy.
    const strict = await manager.create({ name: 'made here' })
    await db.prisma.apiKey.update({ where: { id: strict.apiKey.id }, data: { hashedKey: sha256(strict.key, 'hex'), importedFrom: 'sha256' } })
    const off = await buildApp(db)
    t.teardown(() => off.close())
    const status = async (key: string): Promise<unknown> => (await off.inject({ url: '/protected', headers: auth(key) })).json().code
    t.equal(await status(key), 'FST_API_KEY_MALFORMED', 'the loose format is malformed')
    t.equal(await status(strict.key), 'FST_API_KEY_INVALID', 'a legacy hash never matches: fail closed')
    t.match(await hashOf(db, prefix), /^sha512\$\$/, 'nor is it upgraded')
    await t.rejects(off.apiKeys.importKey({ from: 'drf-api-key', prefix: drfKey().prefix, hashedKey: drfSha512(key), name: 'x' }), {
      code: 'FST_API_KEY_FEATURE_OFF', message: /^The importedKeys feature is off: pass importedKeys: true/
    })
    t.match(await call(strict.key), { statusCode: 200 }, 'with the option, the same row works')
  })
})

t.test('importedKeys must be a boolean', async (t) => {
  const model = { create () {}, findUnique () {}, findMany () {}, count () {}, update () {}, updateMany () {} } as never
  await t.rejects(async () => await Fastify().register(apiKeyPlugin, { model, importedKeys: 'yes' as unknown as boolean }).ready(), {
    code: 'FST_API_KEY_INVALID_OPTION', message: /^Invalid option importedKeys: expected true/
  })
  t.throws(() => testManager(model, { importedKeys: 1 as unknown as boolean }), { code: 'FST_API_KEY_INVALID_OPTION', message: /^Invalid option importedKeys/ })
})

t.test('the hashes of imported keys are kept out of Prisma\'s reasons too', async (t) => {
  const { key } = drfKey()
  for (const hash of [drfSha512(key), djangoPbkdf2(key, 'salt', 10), sha256(key, 'hex'), sha256(key, 'base64url')]) {
    t.equal(reasonOf(new Error(`Invalid call\n\nArgument hashedKey: "${hash}" is too long`)), 'Argument hashedKey: "[hash]" is too long')
  }
})
