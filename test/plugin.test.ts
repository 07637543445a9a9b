import Fastify from 'fastify'
import t from 'tap'
import { DAY } from './helpers/time.ts'
import apiKeyPlugin from '../src/index.ts'
import { auth, buildApp, FAST_SCRYPT } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'
import { unknownKey, wrongSecret } from './helpers/keys.ts'

eachDatabase(t, async (t, db) => {
  const app = await buildApp(db)
  t.teardown(() => app.close())
  const { key, apiKey } = await app.apiKeys.create({ name: 'client' })
  const get = async (headers: Record<string, string> = {}, url = '/protected') => await app.inject({ url, headers })

  t.test('a valid key in Authorization passes and sets request.apiKey without its hash', async (t) => {
    const res = await get(auth(key))
    t.equal(res.statusCode, 200)
    t.equal(res.json().apiKey.id, apiKey.id)
    t.equal(res.json().apiKey.prefix, apiKey.prefix)
    t.notOk('hashedKey' in res.json().apiKey)
    t.notOk(res.body.includes('$scrypt$'))
  })

  t.test('no key: 401 with a challenge', async (t) => {
    const res = await get()
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'FST_API_KEY_MISSING')
    t.equal(res.headers['www-authenticate'], 'Api-Key')
  })

  t.test('invalid keys are 401 malformed, and the challenge says so', async (t) => {
    const dot = key.indexOf('.')
    const cases: Record<string, string> = {
      empty: 'Api-Key ',
      abcd: 'Api-Key abcd',
      'foo.bar': 'Api-Key foo.bar',
      'leading space': `Api-Key  ${key}`,
      'upper-cased': `Api-Key ${key.toUpperCase()}`,
      'lower-cased': `Api-Key ${key.toLowerCase()}`,
      'truncated prefix': `Api-Key ${key.slice(1)}`,
      'prefix without its first character and a dot kept': `Api-Key ${key.slice(0, dot - 1)}${key.slice(dot)}`,
      'no space after the keyword': `Api-Key:${key}`,
      'keyword alone': 'Api-Key',
      'trailing space': `Api-Key ${key} `,
      'one character changed': `Api-Key ${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`
    }
    for (const [name, header] of Object.entries(cases)) {
      const res = await get({ authorization: header })
      t.equal(res.statusCode, 401, name)
      t.equal(res.json().code, 'FST_API_KEY_MALFORMED', name)
      t.equal(res.json().message, 'Invalid API key', name)
      t.equal(res.headers['www-authenticate'], 'Api-Key error="invalid_key"', name)
    }
  })

  t.test('another scheme is no key at all', async (t) => {
    for (const header of [`Token ${key}`, `Bearer ${key}`, `X-Api-Key ${key}`, `api-key ${key}`, `Api-Keys ${key}`]) {
      const res = await get({ authorization: header })
      t.equal(res.statusCode, 401, header)
      t.equal(res.json().code, 'FST_API_KEY_MISSING', header)
    }
  })

  t.test('right prefix with a wrong secret, or an unknown prefix: the same 401, word for word', async (t) => {
    const wrong = await get(auth(wrongSecret(key)))
    const unknown = await get(auth(unknownKey()))
    t.same(wrong.json(), { statusCode: 401, code: 'FST_API_KEY_INVALID', error: 'Unauthorized', message: 'Invalid API key' })
    t.same(unknown.json(), wrong.json(), 'the body does not tell which prefixes exist')
    const headers = (res: typeof wrong): unknown => ({ ...res.headers, date: null, 'content-length': null })
    t.same(headers(unknown), headers(wrong), 'nor do the headers')
    t.same((await app.apiKeys.verify(unknownKey())), { valid: false, reason: 'unknown' }, 'the manager tells the app')
  })

  t.test('revoked key: 401 revoked, and revocation cannot be undone', async (t) => {
    const created = await app.apiKeys.create({ name: 'to revoke' })
    t.equal((await get(auth(created.key))).statusCode, 200)
    const revoked = await app.apiKeys.revoke(created.apiKey.id)
    t.equal(revoked.revoked, true)
    const res = await get(auth(created.key))
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'FST_API_KEY_REVOKED')
    await t.rejects(app.apiKeys.update(created.apiKey.id, { revoked: false }), { code: 'FST_API_KEY_UNREVOKE', statusCode: 409 })
    t.equal((await app.apiKeys.get(created.apiKey.id))?.revoked, true)
    t.equal((await get(auth(created.key))).statusCode, 401)
  })

  t.test('a revoked key with a wrong secret is reported as a wrong secret', async (t) => {
    const created = await app.apiKeys.create({ name: 'revoked, guessed' })
    await app.apiKeys.revoke(created.apiKey.id)
    t.equal((await get(auth(wrongSecret(created.key)))).json().code, 'FST_API_KEY_INVALID')
  })

  t.test('expiry tomorrow passes, expiry two days ago is 401 expired', async (t) => {
    const tomorrow = await app.apiKeys.create({ name: 'tomorrow', expiresAt: new Date(Date.now() + DAY) })
    t.equal((await get(auth(tomorrow.key))).statusCode, 200)
    const past = await app.apiKeys.create({ name: 'past' })
    await app.apiKeys.update(past.apiKey.id, { expiresAt: new Date(Date.now() - 2 * DAY) })
    const res = await get(auth(past.key))
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'FST_API_KEY_EXPIRED')
    t.equal((await get(auth(wrongSecret(past.key)))).json().code, 'FST_API_KEY_INVALID')
  })

  t.test('a repeated key header is refused', async (t) => {
    const custom = await buildApp(db, { header: 'x-api-key' })
    t.teardown(() => custom.close())
    const res = await custom.inject({ url: '/protected', headers: { 'x-api-key': [key, key] } })
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'FST_API_KEY_MALFORMED')
  })

  t.test('a valid key in a custom header', async (t) => {
    const custom = await buildApp(db, { header: 'X-Api-Key' })
    t.teardown(() => custom.close())
    const ok = await custom.inject({ url: '/protected', headers: { 'x-api-key': key } })
    t.equal(ok.statusCode, 200)
    t.equal(ok.json().apiKey.id, apiKey.id)
    const prefixed = await custom.inject({ url: '/protected', headers: { 'x-api-key': `Api-Key ${key}` } })
    t.equal(prefixed.json().code, 'FST_API_KEY_MALFORMED')
    const none = await custom.inject({ url: '/protected', headers: auth(key) })
    t.equal(none.json().code, 'FST_API_KEY_MISSING')
  })

  t.test('a custom keyword and realm', async (t) => {
    const custom = await buildApp(db, { keyword: 'Key', realm: 'partners' })
    t.teardown(() => custom.close())
    t.equal((await custom.inject({ url: '/protected', headers: { authorization: `Key ${key}` } })).statusCode, 200)
    const res = await custom.inject({ url: '/protected', headers: auth(key) })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], 'Key realm="partners"')
    const bad = await custom.inject({ url: '/protected', headers: { authorization: 'Key nope' } })
    t.equal(bad.headers['www-authenticate'], 'Key realm="partners", error="invalid_key"')
  })

  t.test('getKey reads the key from anywhere', async (t) => {
    const custom = await buildApp(db, { getKey: (request) => (request.query as Record<string, string>).key })
    t.teardown(() => custom.close())
    t.equal((await custom.inject({ url: `/protected?key=${key}` })).statusCode, 200)
    t.equal((await custom.inject({ url: '/protected' })).json().code, 'FST_API_KEY_MISSING')
    t.equal((await custom.inject({ url: '/protected?key=x&key=y' })).json().code, 'FST_API_KEY_MALFORMED')
  })

  t.test('optional routes and authorize', async (t) => {
    const custom = Fastify()
    await custom.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
    custom.get('/optional', { config: { apiKey: { optional: true } } }, async (request) => ({ apiKey: request.apiKey }))
    custom.get('/only-client', {
      config: { apiKey: { authorize: (apiKey) => apiKey.name === 'client' } }
    }, async () => ({ ok: true }))
    custom.get('/async-refusal', {
      config: { apiKey: { authorize: async (_apiKey, request) => request.headers['x-allow'] === 'yes' } }
    }, async () => ({ ok: true }))
    t.teardown(() => custom.close())
    const other = await custom.apiKeys.create({ name: 'other' })

    const anonymous = await custom.inject({ url: '/optional' })
    t.equal(anonymous.statusCode, 200)
    t.same(anonymous.json(), { apiKey: null })
    t.equal((await custom.inject({ url: '/optional', headers: auth(key) })).json().apiKey.id, apiKey.id)
    t.equal((await custom.inject({ url: '/optional', headers: auth('nope') })).statusCode, 401)
    t.equal((await custom.inject({ url: '/optional', headers: auth(wrongSecret(key)) })).statusCode, 401)

    t.equal((await custom.inject({ url: '/only-client', headers: auth(key) })).statusCode, 200)
    const refused = await custom.inject({ url: '/only-client', headers: auth(other.key) })
    t.equal(refused.statusCode, 403)
    t.equal(refused.json().code, 'FST_API_KEY_FORBIDDEN')
    t.equal((await custom.inject({ url: '/only-client' })).statusCode, 401)

    t.equal((await custom.inject({ url: '/async-refusal', headers: { ...auth(key), 'x-allow': 'yes' } })).statusCode, 200)
    t.equal((await custom.inject({ url: '/async-refusal', headers: auth(key) })).statusCode, 403)
  })

  t.test("hook: 'onRequest' refuses before the body is parsed", async (t) => {
    for (const [hook, expected] of [['onRequest', 401], ['preHandler', 400]] as const) {
      const custom = Fastify()
      await custom.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, hook })
      custom.post('/upload', { config: { apiKey: true } }, async () => ({ ok: true }))
      t.teardown(() => custom.close())
      const res = await custom.inject({ method: 'POST', url: '/upload', headers: { 'content-type': 'application/json' }, payload: '{not json' })
      t.equal(res.statusCode, expected, hook)
      const ok = await custom.inject({ method: 'POST', url: '/upload', headers: auth(key), payload: { a: 1 } })
      t.equal(ok.statusCode, 200, hook)
    }
  })

  t.test('route hooks of the app run after the key check and see request.apiKey', async (t) => {
    const custom = Fastify()
    await custom.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
    const seen: Array<string | undefined> = []
    custom.get('/hooked', {
      config: { apiKey: true },
      preHandler: async (request) => { seen.push(request.apiKey?.id) }
    }, async () => ({ ok: true }))
    custom.get('/hooked-twice', {
      config: { apiKey: true },
      preHandler: [async (request) => { seen.push(`1 ${request.apiKey?.id}`) }, async (request) => { seen.push(`2 ${request.apiKey?.id}`) }]
    }, async () => ({ ok: true }))
    t.teardown(() => custom.close())
    t.equal((await custom.inject({ url: '/hooked', headers: auth(key) })).statusCode, 200)
    t.equal((await custom.inject({ url: '/hooked' })).statusCode, 401)
    t.equal((await custom.inject({ url: '/hooked-twice', headers: auth(key) })).statusCode, 200)
    t.equal((await custom.inject({ url: '/hooked-twice' })).statusCode, 401)
    t.same(seen, [apiKey.id, `1 ${apiKey.id}`, `2 ${apiKey.id}`])
  })

  t.test('verifyApiKey guards a route by hand', async (t) => {
    const custom = Fastify()
    await custom.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
    custom.get('/manual', { preHandler: custom.verifyApiKey }, async (request) => ({ id: request.apiKey?.id }))
    t.teardown(() => custom.close())
    t.same((await custom.inject({ url: '/manual', headers: auth(key) })).json(), { id: apiKey.id })
    t.equal((await custom.inject({ url: '/manual' })).statusCode, 401)
  })

  t.test('unprotected routes are untouched', async (t) => {
    const res = await get(auth('garbage'), '/open')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { open: true })
  })
})
