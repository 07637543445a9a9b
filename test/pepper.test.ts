// The pepper (docs/security.md): a key that one instance verified with scrypt
// is accepted by any instance holding the pepper, by an HMAC bound to the
// row's current hash, without scrypt; rotation, re-hash and revocation void
// it; a previous pepper's HMAC is accepted and rewritten; without a pepper the
// keyHmac column is left alone.
import type { Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { Piscina } from 'piscina'
import t from 'tap'
import apiKeyPlugin, { createApiKeyManager, type ApiKeyManager, type ApiKeyManagerOptions } from '../src/index.ts'
import { keyHmac, pepperKeys } from '../src/pepper.ts'
import { auth, FAST_SCRYPT, testManager } from './helpers/app.ts'
import { eachDatabase, openDatabase, type TestDatabase } from './helpers/databases.ts'
import { wrongSecret } from './helpers/keys.ts'
import { withMethods } from './helpers/models.ts'

// Every scrypt the library runs, on any manager, is one Piscina#run (the
// Hasher's #derive is the only caller): counting them counts scrypts.
let scrypts = 0
const run = Piscina.prototype.run
Piscina.prototype.run = function (this: Piscina, ...args: Parameters<typeof run>) {
  scrypts++
  return run.apply(this, args)
} as typeof run

/** How many scrypts `work` ran. */
async function counting<T> (work: () => Promise<T>): Promise<{ result: T, scrypts: number }> {
  const before = scrypts
  const result = await work()
  return { result, scrypts: scrypts - before }
}

const secret = (): string => randomBytes(32).toString('base64')

function manager (t: Test, db: TestDatabase, options: Partial<ApiKeyManagerOptions> = {}): ApiKeyManager {
  const made = testManager(db.prisma.apiKey, { throttleDelay: 0, ...options })
  t.teardown(() => made.close())
  return made
}

async function stored (db: TestDatabase, id: string): Promise<{ hashedKey: string, keyHmac: string | null }> {
  return await db.prisma.apiKey.findUniqueOrThrow({ where: { id }, select: { hashedKey: true, keyHmac: true } })
}

/** The row once `done` holds for it (background writes land soon after the check). */
async function eventually (db: TestDatabase, id: string, done: (row: { hashedKey: string, keyHmac: string | null }) => boolean): Promise<{ hashedKey: string, keyHmac: string | null }> {
  for (let i = 0; i < 200; i++) {
    const row = await stored(db, id)
    if (done(row)) return row
    await sleep(25)
  }
  throw new Error('the row never got there')
}

const hmacUnder = (pepper: string, hashedKey: string, key: string): string => keyHmac((pepperKeys(pepper) as NonNullable<ReturnType<typeof pepperKeys>>)[0], hashedKey, key)

eachDatabase(t, async (t, db) => {
  t.test('a fresh instance with the same pepper accepts a key another verified, without scrypt', async (t) => {
    const pepper = secret()
    const first = manager(t, db, { pepper })
    const { apiKey, key } = await first.create({ name: 'restart' })
    t.equal((await stored(db, apiKey.id)).keyHmac, null, 'no HMAC before a check')
    t.equal((await counting(async () => await first.verify(key))).scrypts, 1, 'the first check runs scrypt')
    const row = await eventually(db, apiKey.id, (row) => row.keyHmac !== null)
    t.equal(row.keyHmac, hmacUnder(pepper, row.hashedKey, key), 'HMAC-SHA256 under the pepper, bound to the stored hash')

    const second = manager(t, db, { pepper })
    const { result, scrypts } = await counting(async () => await second.verify(key))
    t.equal(scrypts, 0, 'the fresh instance ran no scrypt')
    t.match(result, { valid: true, apiKey: { id: apiKey.id } })
    t.notOk('keyHmac' in (result as { apiKey: object }).apiKey, 'the record carries no keyHmac')
    t.match(second.verifyCached(key), { valid: true }, 'and remembers the match')
    t.equal((await counting(async () => await manager(t, db).verify(key))).scrypts, 1, 'an instance without the pepper runs scrypt')
  })

  t.test('a wrong key, or a keyHmac that does not match, is left to scrypt', async (t) => {
    const pepper = secret()
    const first = manager(t, db, { pepper })
    const { apiKey, key } = await first.create({ name: 'wrong' })
    await first.verify(key)
    const sealed = await eventually(db, apiKey.id, (row) => row.keyHmac !== null)

    const second = manager(t, db, { pepper })
    const wrong = await counting(async () => await second.verify(wrongSecret(key)))
    t.same(wrong, { result: { valid: false, reason: 'wrong_secret' }, scrypts: 1 }, 'a wrong secret is refused, by scrypt')

    // An HMAC of another key for this hash, as a database writer could store.
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { keyHmac: hmacUnder(pepper, sealed.hashedKey, wrongSecret(key)) } })
    const third = manager(t, db, { pepper })
    const right = await counting(async () => await third.verify(key))
    t.match(right, { result: { valid: true }, scrypts: 1 }, 'the right key against a foreign HMAC: scrypt decides')
    t.equal((await eventually(db, apiKey.id, (row) => row.keyHmac === sealed.keyHmac)).keyHmac, sealed.keyHmac, 'and the HMAC is written again')
  })

  t.test('a key its HMAC vouches for spends no throttle token', async (t) => {
    const pepper = secret()
    const first = manager(t, db, { pepper })
    const { apiKey, key } = await first.create({ name: 'throttled' })
    await first.verify(key)
    await eventually(db, apiKey.id, (row) => row.keyHmac !== null)
    for (const [options, reason] of [[{ pepper }, 'vouched for'], [{}, 'throttled']] as const) {
      const other = manager(t, db, { ...options, maxFailures: 1, failureWindow: 60_000 })
      t.match(await other.verify(wrongSecret(key)), { reason: 'wrong_secret' })
      t.match(await other.verify(wrongSecret(key)), { reason: 'throttled' }, 'the budget is spent')
      const result = await other.verify(key)
      t.match(result, reason === 'throttled' ? { valid: false, reason } : { valid: true }, `the owner's key: ${reason}`)
    }
  })

  t.test('rotation voids the HMAC; the grace secret never gets one', async (t) => {
    const pepper = secret()
    const first = manager(t, db, { pepper })
    const { apiKey, key: oldKey } = await first.create({ name: 'rotated' })
    await first.verify(oldKey)
    await eventually(db, apiKey.id, (row) => row.keyHmac !== null)
    const { key: newKey } = await first.rotate(apiKey.id, { gracePeriod: 1_000 })
    const graceEnds = Date.now() + 1_000
    t.equal((await stored(db, apiKey.id)).keyHmac, null, 'rotation clears it')

    const during = manager(t, db, { pepper })
    t.match(await counting(async () => await during.verify(oldKey)), { result: { valid: true }, scrypts: 2 }, 'the old key works during its grace, by scrypt')
    // A write would be under way by now: it starts before the check returns.
    await sleep(200)
    t.equal((await stored(db, apiKey.id)).keyHmac, null, 'and gets no HMAC')
    await sleep(Math.max(0, graceEnds - Date.now()) + 50)

    const after = manager(t, db, { pepper })
    t.same(await counting(async () => await after.verify(oldKey)), { result: { valid: false, reason: 'wrong_secret' }, scrypts: 1 }, 'the old key, after its grace: refused')
    t.match(await after.verify(newKey), { valid: true })
    const row = await eventually(db, apiKey.id, (row) => row.keyHmac !== null)
    t.equal(row.keyHmac, hmacUnder(pepper, row.hashedKey, newKey), 'the HMAC written is the new key\'s, for the new hash')
    t.match(await counting(async () => await manager(t, db, { pepper }).verify(newKey)), { result: { valid: true }, scrypts: 0 }, 'the new key by its HMAC')
  })

  t.test('an HMAC write that lands after a rotation is dropped (compare-and-set on the hash)', async (t) => {
    const pepper = secret()
    let release = (): void => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let written = (_count: number): void => {}
    const landed = new Promise<number>((resolve) => { written = resolve })
    const real = db.prisma.apiKey as any
    const model = withMethods(real, {
      updateMany: async (args) => {
        if (!('keyHmac' in args.data)) return await real.updateMany(args)
        await gate
        const result = await real.updateMany(args)
        written(result.count)
        return result
      }
    })
    const slow = testManager(model, { pepper })
    t.teardown(() => slow.close())
    const { apiKey, key } = await slow.create({ name: 'race' })
    t.match(await slow.verify(key), { valid: true })
    await manager(t, db, { pepper }).rotate(apiKey.id)
    release()
    t.equal(await landed, 0, 'the late write matched no row')
    t.equal((await stored(db, apiKey.id)).keyHmac, null)
  })

  t.test('a failed HMAC write goes to onBackgroundError; the check it followed passes', async (t) => {
    const real = db.prisma.apiKey as any
    const model = withMethods(real, {
      updateMany: async (args) => {
        if ('keyHmac' in args.data) throw new Error('connection lost')
        return await real.updateMany(args)
      }
    })
    let reported: (err: unknown) => void = () => {}
    const failed = new Promise<unknown>((resolve) => { reported = resolve })
    const broken = testManager(model, { pepper: secret(), onBackgroundError: (err) => reported(err) })
    t.teardown(() => broken.close())
    const { key } = await broken.create({ name: 'unwritten' })
    t.match(await broken.verify(key), { valid: true })
    t.match(await failed, { code: 'FST_API_KEY_UNAVAILABLE' })
  })

  t.test('an HMAC left by a rotation without the pepper is void: it was bound to the old hash', async (t) => {
    const pepper = secret()
    const first = manager(t, db, { pepper })
    const { apiKey, key: oldKey } = await first.create({ name: 'rotated elsewhere' })
    await first.verify(oldKey)
    const sealed = await eventually(db, apiKey.id, (row) => row.keyHmac !== null)
    // The CLI, say, run without the pepper: it leaves keyHmac as it was.
    const { key: newKey } = await manager(t, db).rotate(apiKey.id)
    t.equal((await stored(db, apiKey.id)).keyHmac, sealed.keyHmac, 'the stale HMAC is still there')

    const after = manager(t, db, { pepper })
    t.same(await counting(async () => await after.verify(oldKey)), { result: { valid: false, reason: 'wrong_secret' }, scrypts: 1 }, 'the old key: refused')
    t.match(await counting(async () => await after.verify(newKey)), { result: { valid: true }, scrypts: 1 }, 'the new key: by scrypt')
  })

  t.test('a re-hash writes the new hash\'s HMAC in the same update, and an HMAC of the old hash is void', async (t) => {
    const pepper = secret()
    const old = manager(t, db, { pepper })
    const { apiKey, key } = await old.create({ name: 'rehashed' })
    await old.verify(key)
    const before = await eventually(db, apiKey.id, (row) => row.keyHmac !== null)

    // New parameters: the key is vouched for, and its hash still upgraded.
    const upgraded = manager(t, db, { pepper, scrypt: { ...FAST_SCRYPT, ln: 11 } })
    t.match(await counting(async () => await upgraded.verify(key)), { result: { valid: true } })
    const after = await eventually(db, apiKey.id, (row) => row.hashedKey !== before.hashedKey)
    t.match(after.hashedKey, /^\$scrypt\$ln=11,/)
    t.equal(after.keyHmac, hmacUnder(pepper, after.hashedKey, key), 'the new hash\'s HMAC, written with it')
    t.match(await counting(async () => await manager(t, db, { pepper, scrypt: { ...FAST_SCRYPT, ln: 11 } }).verify(key)), { result: { valid: true }, scrypts: 0 })

    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { keyHmac: before.keyHmac } })
    t.match(await counting(async () => await manager(t, db, { pepper, scrypt: { ...FAST_SCRYPT, ln: 11 } }).verify(key)), { result: { valid: true }, scrypts: 1 },
      'the old hash\'s HMAC vouches for nothing: scrypt')
  })

  t.test('revocation clears the HMAC', async (t) => {
    const pepper = secret()
    const first = manager(t, db, { pepper })
    const { apiKey, key } = await first.create({ name: 'revoked' })
    await first.verify(key)
    await eventually(db, apiKey.id, (row) => row.keyHmac !== null)
    await first.revoke(apiKey.id)
    t.equal((await stored(db, apiKey.id)).keyHmac, null)
    t.same(await counting(async () => await manager(t, db, { pepper }).verify(key)), { result: { valid: false, reason: 'revoked' }, scrypts: 1 })
    await sleep(100)
    t.equal((await stored(db, apiKey.id)).keyHmac, null, 'and no check writes one for a revoked key')
  })

  t.test('the pepper rotates: a previous pepper\'s HMAC is accepted and rewritten under the current one', async (t) => {
    const [p1, p2, p3] = [secret(), Buffer.from(secret()), secret()]
    const first = manager(t, db, { pepper: p1 })
    const { apiKey, key } = await first.create({ name: 'pepper rotation' })
    await first.verify(key)
    const underP1 = await eventually(db, apiKey.id, (row) => row.keyHmac !== null)

    t.match(await counting(async () => await manager(t, db, { pepper: [p2, p1] }).verify(key)), { result: { valid: true }, scrypts: 0 }, 'accepted under the previous pepper')
    const underP2 = await eventually(db, apiKey.id, (row) => row.keyHmac !== underP1.keyHmac)
    t.equal(underP2.keyHmac, keyHmac((pepperKeys(p2) as NonNullable<ReturnType<typeof pepperKeys>>)[0], underP2.hashedKey, key), 'rewritten under the current one')
    t.match(await counting(async () => await manager(t, db, { pepper: [p2] }).verify(key)), { result: { valid: true }, scrypts: 0 }, 'the previous pepper can go')
    t.match(await counting(async () => await manager(t, db, { pepper: p3 }).verify(key)), { result: { valid: true }, scrypts: 1 }, 'an unrelated pepper: scrypt')
  })

  t.test('without a pepper, the keyHmac column is left alone', async (t) => {
    const plain = manager(t, db)
    const { apiKey, key } = await plain.create({ name: 'no pepper' })
    await db.prisma.apiKey.update({ where: { id: apiKey.id }, data: { keyHmac: 'left by someone else' } })
    await plain.verify(key)
    const { key: rotated } = await plain.rotate(apiKey.id)
    await manager(t, db).verify(rotated)
    await manager(t, db, { scrypt: { ...FAST_SCRYPT, ln: 11 } }).verify(rotated)
    await eventually(db, apiKey.id, (row) => row.hashedKey.startsWith('$scrypt$ln=11,'))
    await plain.revoke(apiKey.id)
    t.equal((await stored(db, apiKey.id)).keyHmac, 'left by someone else', 'after a check, a rotation, a re-hash and a revocation')
  })
})

t.test('a wrong pepper fails at normalisation, and the error never shows it', async (t) => {
  const model = { create: async () => {}, findUnique: async () => {}, findMany: async () => {}, count: async () => {}, update: async () => {}, updateMany: async () => {} }
  const short = 'x'.repeat(31)
  for (const pepper of [short, Buffer.from(short), new Uint8Array(31), 32, null, {}, [], [secret(), short], [secret(), 5]]) {
    t.throws(() => createApiKeyManager({ model, pepper } as any), {
      code: 'FST_API_KEY_INVALID_OPTION',
      message: /^Invalid option pepper: expected a secret of at least 32 bytes from the environment .*`openssl rand -base64 32`$/
    })
  }
  try {
    createApiKeyManager({ model, pepper: [secret(), short] })
  } catch (err) {
    t.notOk(String((err as Error).message).includes(short), 'the secret is not in the message')
  }
  const ok = createApiKeyManager({ model, pepper: [secret(), randomBytes(32), new Uint8Array(40)] })
  await ok.close()
})

// docs/security.md: the pepper from the environment, then rotated with an array.
t.test('the pepper as docs/security.md sets it, and rotates it', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const prisma = db.prisma
  const previous = secret()
  process.env.API_KEY_PEPPER = previous
  t.teardown(() => { delete process.env.API_KEY_PEPPER; delete process.env.API_KEY_PEPPER_PREVIOUS })
  const serve = async (register: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> => {
    const app = Fastify()
    t.teardown(() => app.close())
    await register(app)
    app.get('/protected', { config: { apiKey: true } }, async () => ({ ok: true }))
    await app.ready()
    return app
  }

  const first = await serve(async (app) => {
    // API_KEY_PEPPER: from `openssl rand -base64 32`, kept with the app's secrets, never in the database
    await app.register(apiKeyPlugin, { model: prisma.apiKey, pepper: process.env.API_KEY_PEPPER })
  })
  const { apiKey, key } = await first.apiKeys.create({ name: 'docs' })
  t.equal((await first.inject({ url: '/protected', headers: auth(key) })).statusCode, 200)
  const underOld = await eventually(db, apiKey.id, (row) => row.keyHmac !== null)

  process.env.API_KEY_PEPPER = secret()
  process.env.API_KEY_PEPPER_PREVIOUS = previous
  const second = await serve(async (app) => {
    // Rotating the pepper: the current one first, the previous one until the keys in use were seen
    const pepper = [process.env.API_KEY_PEPPER, process.env.API_KEY_PEPPER_PREVIOUS].filter((secret) => secret !== undefined)
    await app.register(apiKeyPlugin, { model: prisma.apiKey, pepper })
  })
  const { result, scrypts } = await counting(async () => await second.inject({ url: '/protected', headers: auth(key) }))
  t.equal(result.statusCode, 200)
  t.equal(scrypts, 0, 'accepted under the previous pepper, without scrypt')
  const underNew = await eventually(db, apiKey.id, (row) => row.keyHmac !== underOld.keyHmac)
  t.equal(underNew.keyHmac, hmacUnder(process.env.API_KEY_PEPPER, underNew.hashedKey, key))
})
