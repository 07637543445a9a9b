// No plaintext key anywhere but where it is handed out: a session that uses
// every surface (manager, plugin, admin API, rotation, revocation, bad input
// of every kind, a key passed where an id belongs) is recorded, then its log
// lines, error messages, admin responses, events and every database column
// are scanned for every key it made.
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin, { apiKeyAdmin } from '../src/index.ts'
import { auth, FAST_SCRYPT } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'
import { unknownKey, wrongSecret } from './helpers/keys.ts'

const PREFIX = '/admin/api-keys'
const API = { 'x-api-key-admin': '1', 'x-admin': 'yes' }

eachDatabase(t, async (t, db) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'trace', stream } })
  const pepper = randomBytes(32).toString('base64')
  const heard: string[] = []
  await app.register(apiKeyPlugin, {
    model: db.prisma.apiKey,
    scrypt: FAST_SCRYPT,
    hashThreads: 1,
    maxFailures: 3,
    throttleDelay: 0,
    lastUsedInterval: 1,
    pepper,
    audit: { model: db.prisma.apiKeyEvent },
    onEvent: (event) => { heard.push(JSON.stringify(event)) }
  })
  await app.register(apiKeyAdmin, {
    prefix: PREFIX,
    guard: async (request, reply) => { if (request.headers['x-admin'] !== 'yes') await reply.code(401).send({ message: 'admin only' }) }
  })
  app.get('/protected', { config: { apiKey: true } }, async (request) => ({ apiKey: request.apiKey }))
  app.get('/orders', { config: { apiKey: { scopes: ['orders:read'] } } }, async () => [])
  await app.ready()
  t.teardown(() => app.close())

  const keys: string[] = []
  const handedOut: string[] = []
  const errorMessages: string[] = []
  const adminBodies: string[] = []
  const records: string[] = []
  const keep = (key: string): string => { keys.push(key); return key }
  const failing = async (call: () => Promise<unknown>): Promise<void> => {
    await call().then(() => errorMessages.push('(no error)'), (err: Error) => errorMessages.push(`${err.message} ${JSON.stringify(err)}`))
  }

  // Keys made every way there is.
  const a = await app.apiKeys.create({ name: 'from code', scopes: ['orders:read'] })
  keep(a.key)
  const created = await app.inject({ method: 'POST', url: `${PREFIX}/api/keys`, headers: API, payload: { name: 'from the panel' } })
  const b = created.json() as { apiKey: { id: string }, key: string }
  handedOut.push(created.body)
  keep(b.key)
  const rotated = await app.inject({ method: 'POST', url: `${PREFIX}/api/keys/${b.apiKey.id}/rotate`, headers: API, payload: { gracePeriod: 60_000 } })
  handedOut.push(rotated.body)
  const c = keep((rotated.json() as { key: string }).key)
  const d = await app.apiKeys.rotate(a.apiKey.id)
  keep(d.key)
  const revoked = await app.apiKeys.create({ name: 'revoked' })
  keep(revoked.key)
  await app.apiKeys.revoke(revoked.apiKey.id)

  // Every kind of request, good and bad.
  const presented = [
    ...keys, ...keys.map(wrongSecret), unknownKey(), a.key.toLowerCase(), `${a.key}x`, a.key.slice(0, -1),
    ...keys.map((key) => ` ${key}`)
  ]
  for (const key of presented) {
    records.push((await app.inject({ url: '/protected', headers: auth(key) })).body)
    await app.inject({ url: '/orders', headers: auth(key) })
    await app.inject({ url: '/protected', headers: { authorization: `Api-Key:${key}` } })
    await app.inject({ url: '/protected', headers: { authorization: `Bearer ${key}` } })
  }

  // A key where an id belongs, and other wrong calls: the errors must not echo it.
  for (const key of keys) {
    await failing(async () => await app.apiKeys.get(key))
    await failing(async () => await app.apiKeys.revoke(key))
    await failing(async () => await app.apiKeys.rotate(key))
    await failing(async () => await app.apiKeys.update(key, { name: 'x' }))
    await failing(async () => await app.apiKeys.create({ name: 'x', hashedKey: key }))
    await failing(async () => await app.apiKeys.create({ name: 'x', scopes: [key] }))
    await failing(async () => await app.apiKeys.create({ name: `partner ${key}` }))
    await failing(async () => await app.apiKeys.update(a.apiKey.id, { note: key }))
    await failing(async () => await app.apiKeys.revoke(a.apiKey.id, { actor: `cleanup with ${key}` }))
    // (Not in URLs: Fastify logs every request's URL, whoever put a key there.)
    adminBodies.push((await app.inject({ method: 'POST', url: `${PREFIX}/api/keys`, headers: API, payload: { name: key } })).body)
  }
  adminBodies.push((await app.inject({ url: `${PREFIX}/api/keys`, headers: API })).body)
  for (const id of [a.apiKey.id, b.apiKey.id, revoked.apiKey.id]) {
    adminBodies.push((await app.inject({ url: `${PREFIX}/api/keys/${id}`, headers: API })).body)
  }
  records.push(JSON.stringify([a.apiKey, d.apiKey, await app.apiKeys.get(a.apiKey.id), await app.apiKeys.list(), await app.apiKeys.revoke(b.apiKey.id)]))
  const history: string[] = []
  for (const id of [a.apiKey.id, b.apiKey.id, revoked.apiKey.id]) {
    history.push(JSON.stringify(await app.apiKeys.events(id)))
    adminBodies.push((await app.inject({ url: `${PREFIX}/api/keys/${id}/events`, headers: API })).body)
  }
  await app.apiKeys.flush()
  // The pepper's HMAC writes run after their checks: let them land.
  await sleep(200)

  const table = db.provider === 'mysql' ? '`ApiKey`' : '"ApiKey"'
  const rows = JSON.stringify(await db.query(`SELECT * FROM ${table}`))
  const eventTable = db.provider === 'mysql' ? '`ApiKeyEvent`' : '"ApiKeyEvent"'
  const eventRows = JSON.stringify(await db.query(`SELECT * FROM ${eventTable}`))
  const events = [...heard, ...history, eventRows].join('\n')
  const log = lines.join('')
  const places: Record<string, string> = {
    'log lines': log,
    'error messages': errorMessages.join('\n'),
    'admin responses': adminBodies.join('\n'),
    'records (request.apiKey, manager results)': records.join('\n'),
    'database columns': rows,
    'events (onEvent, manager.events, the audit table)': events
  }
  t.ok(lines.length > 100, `${lines.length} log lines, ${errorMessages.length} errors, ${adminBodies.length} admin responses, ${rows.length} characters of rows scanned`)
  t.equal(keys.length, 5)
  for (const [where, text] of Object.entries(places)) {
    const found = keys.filter((key) => {
      const secret = key.slice(key.indexOf('.') + 1, key.indexOf('.') + 33)
      return text.includes(key) || text.includes(secret) || text.toLowerCase().includes(secret.toLowerCase())
    })
    t.same(found, [], `no key or secret in the ${where}`)
  }
  // Derived from the secret: no column of it leaves the database, not even
  // empty; and the pepper is nowhere, the database included.
  const hmacs = (await db.prisma.apiKey.findMany({ where: { keyHmac: { not: null } }, select: { keyHmac: true } })).map((row) => row.keyHmac as string)
  t.ok(hmacs.length >= 1, `${hmacs.length} keyHmac values written`)
  for (const [where, text] of Object.entries(places)) {
    if (where !== 'database columns') {
      t.notOk(/keyHmac/i.test(text), `no keyHmac in the ${where}`)
      t.same(hmacs.filter((hmac) => text.includes(hmac)), [], `no keyHmac value in the ${where}`)
    }
    t.notOk(text.includes(pepper) || text.includes(Buffer.from(pepper).toString('hex')), `no pepper in the ${where}`)
  }
  t.equal(handedOut[0].split(b.key).length - 1, 1, 'the panel hands out a new key once, in its create response')
  t.equal(handedOut[1].split(c).length - 1, 1, 'and a rotated key once, in its rotate response')
  t.notOk(errorMessages.includes('(no error)'), 'every wrong call failed')
  t.ok(rows.includes('$scrypt$'), 'the rows hold hashes')
  t.ok(heard.length >= 6 && eventRows.includes('"rotated"') && eventRows.includes('"revoked"'), `${heard.length} events heard, and recorded`)
  t.notOk(/scrypt|hashedKey|previousHashedKey/i.test(events), 'no hash, nor the name of a hash column, in an event')
  const hashes = (await db.prisma.apiKey.findMany({ select: { hashedKey: true, previousHashedKey: true } })).flatMap((row) => [row.hashedKey, row.previousHashedKey ?? []].flat())
  t.same(hashes.filter((hash) => events.includes(hash.split('$').at(-1) as string)), [], 'no hash value in an event')
})
