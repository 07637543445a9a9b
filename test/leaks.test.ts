// The secret scanning receiver (docs/leaks.md): GitHub posts keys it found in
// public code, signed with ECDSA P-256 over the raw body. Here the test is
// GitHub: its own key pair, its own key server on 127.0.0.1, nothing leaves
// the machine.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import apiKeyPlugin, { apiKeySecretScanning, type LeakedKey } from '../src/index.ts'
import { FAST_SCRYPT } from './helpers/app.ts'
import { eachDatabase, openDatabase, type TestDatabase } from './helpers/databases.ts'
import { unknownKey, wrongSecret } from './helpers/keys.ts'

interface GitHub { url: string, fetches: number, sign: (body: string, id?: string) => Record<string, string>, addKey: (id: string) => void, down: boolean, empty: boolean }

// GitHub's side: key pairs by id, and the list of public keys it serves.
async function fakeGitHub (t: Test): Promise<GitHub> {
  const pairs = new Map<string, { privateKey: KeyObject, publicKey: KeyObject }>()
  const addKey = (id: string): void => { pairs.set(id, generateKeyPairSync('ec', { namedCurve: 'prime256v1' })) }
  addKey('k1')
  const github: GitHub = {
    url: '',
    fetches: 0,
    down: false,
    empty: false,
    addKey,
    sign: (body, id = 'k1') => ({
      'content-type': 'application/json',
      'github-public-key-identifier': id,
      'github-public-key-signature': sign('sha256', Buffer.from(body), (pairs.get(id) as { privateKey: KeyObject }).privateKey).toString('base64')
    })
  }
  const server: Server = createServer((_req, res) => {
    github.fetches++
    if (github.down) { res.writeHead(502).end(); return }
    if (github.empty) { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return }
    const publicKeys = [...pairs].map(([id, { publicKey }]) => ({ key_identifier: id, key: publicKey.export({ type: 'spki', format: 'pem' }), is_current: true }))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ public_keys: [...publicKeys, { key_identifier: 'broken', key: 'not a key' }, { key_identifier: 'no key' }] }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  github.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/meta/public_keys/secret_scanning`
  t.teardown(() => { server.close() })
  return github
}

async function receiver (t: Test, db: TestDatabase, github: GitHub, options: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, leaks: LeakedKey[] }> {
  const leaks: LeakedKey[] = []
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, suspension: true })
  await app.register(apiKeySecretScanning, { prefix: '/github/secret-scanning', keysUrl: github.url, keysRefreshInterval: 0, onLeak: (leak) => { leaks.push(leak) }, ...options })
  t.teardown(() => app.close())
  await app.ready()
  return { app, leaks }
}

const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex')

eachDatabase(t, async (t, db) => {
  const github = await fakeGitHub(t)

  t.test('a leaked key is revoked; a fake with its prefix changes nothing', async (t) => {
    const { app, leaks } = await receiver(t, db, github)
    const leaked = await app.apiKeys.create({ name: 'leaked' })
    const owner = await app.apiKeys.create({ name: 'not leaked' })
    const disabled = await app.apiKeys.create({ name: 'disabled, leaked' })
    await app.apiKeys.disable(disabled.apiKey.id)
    const tokens = [leaked.key, wrongSecret(owner.key), unknownKey(), 'not a key at all', disabled.key]
    const body = JSON.stringify(tokens.map((token) => ({ token, type: 'acme_api_key', url: 'https://github.com/octocat/hello/blob/main/config.js', source: 'content' })))
    const res = await app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(body), payload: body })
    t.equal(res.statusCode, 200)
    t.same(res.json(), tokens.map((token, i) => ({ token_hash: tokenHash(token), token_type: 'acme_api_key', label: [0, 4].includes(i) ? 'true_positive' : 'false_positive' })))
    t.same(await app.apiKeys.verify(leaked.key), { valid: false, reason: 'revoked' }, 'revoked at once')
    t.match(await app.apiKeys.verify(owner.key), { valid: true }, 'a fake with the owner\'s prefix did not lock the owner out')
    t.equal((await app.apiKeys.get(disabled.apiKey.id))?.revoked, true, 'a disabled key that leaked is revoked too')
    t.match(leaks, [
      { apiKey: { id: leaked.apiKey.id, revoked: true }, url: 'https://github.com/octocat/hello/blob/main/config.js', source: 'content', type: 'acme_api_key', revoked: true },
      { apiKey: { id: disabled.apiKey.id, revoked: true }, revoked: true }
    ])
    t.equal(leaks.length, 2)

    const again = await app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(JSON.stringify([{ token: leaked.key, type: 'acme_api_key' }])), payload: JSON.stringify([{ token: leaked.key, type: 'acme_api_key' }]) })
    t.same(again.json(), [{ token_hash: tokenHash(leaked.key), token_type: 'acme_api_key', label: 'true_positive' }], 'reported again: still ours')
    t.match(leaks.at(-1), { apiKey: { id: leaked.apiKey.id }, url: null, source: null, revoked: false }, 'already revoked: not revoked again')
  })

  t.test('action report: the app decides, nothing is revoked', async (t) => {
    const { app, leaks } = await receiver(t, db, github, { action: 'report' })
    const { apiKey, key } = await app.apiKeys.create({ name: 'reported' })
    const body = JSON.stringify([{ token: key, type: 'acme_api_key', url: 'https://github.com/x/y', source: 'commit' }])
    t.equal((await app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(body), payload: body })).json()[0].label, 'true_positive')
    t.match(await app.apiKeys.verify(key), { valid: true })
    t.match(leaks, [{ apiKey: { id: apiKey.id, revoked: false }, revoked: false, source: 'commit' }])
  })

  t.test('what is not GitHub\'s report gets a clear 4xx and changes nothing', async (t) => {
    const { app, leaks } = await receiver(t, db, github)
    const { key } = await app.apiKeys.create({ name: 'safe' })
    const body = JSON.stringify([{ token: key, type: 'acme_api_key' }])
    const post = async (headers: Record<string, string>, payload: string | Buffer = body) => await app.inject({ method: 'POST', url: '/github/secret-scanning', headers, payload })
    const refused = async (headers: Record<string, string>, status: number, code: string, message: RegExp, payload?: string | Buffer): Promise<void> => {
      const res = await post(headers, payload)
      t.equal(res.statusCode, status, message.source)
      t.match(res.json(), { code, message })
    }
    const signed = github.sign(body)
    await refused({ ...signed, 'github-public-key-signature': github.sign('[]')['github-public-key-signature'] }, 401, 'FST_API_KEY_LEAK_SIGNATURE', /the signature does not match the body/)
    await refused({ ...signed, 'github-public-key-signature': 'bm90IGEgc2lnbmF0dXJl' }, 401, 'FST_API_KEY_LEAK_SIGNATURE', /does not match/)
    await refused({ 'content-type': 'application/json' }, 401, 'FST_API_KEY_LEAK_SIGNATURE', /headers are required/)
    await refused({ ...signed, 'github-public-key-identifier': 'k9' }, 401, 'FST_API_KEY_LEAK_SIGNATURE', /no signing key "k9" is listed/)
    await refused({ ...signed, 'content-type': 'text/plain' }, 400, 'FST_API_KEY_LEAK_REPORT', /expected an application\/json body/)
    for (const [payload, message] of [['{"token":1}', /expected a non-empty array/], ['[]', /expected a non-empty array/], ['nope', /not JSON/], ['[{"token":"x"}]', /item 0 has no token and type strings/],
      [JSON.stringify(Array.from({ length: 1001 }, () => ({ token: 'x', type: 'y' }))), /at most 1000 tokens/]] as const) {
      await refused(github.sign(payload), 400, 'FST_API_KEY_LEAK_REPORT', message, payload)
    }
    const huge = JSON.stringify([{ token: 'x'.repeat(2 * 1024 * 1024), type: 'y' }])
    t.equal((await post(github.sign(huge), huge)).statusCode, 413, 'a body over bodyLimit')
    t.match(await app.apiKeys.verify(key), { valid: true }, 'nothing was revoked')
    t.same(leaks, [])
  })

  t.test('a flood of fakes for one prefix: undecided, GitHub is asked to retry', async (t) => {
    const { app } = await receiver(t, db, github)
    const { key } = await app.apiKeys.create({ name: 'targeted' })
    const body = JSON.stringify(Array.from({ length: 12 }, () => ({ token: wrongSecret(key), type: 'acme_api_key' })))
    const res = await app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(body), payload: body })
    t.equal(res.statusCode, 503, 'the prefix\'s budget of unverified checks ran out')
    t.equal(res.json().code, 'FST_API_KEY_BUSY')
    t.match(await app.apiKeys.verify(key), { valid: true }, 'the owner\'s key, verified, still works')
  })

  t.test('signing keys: fetched once, again for a new id, and an outage is a 503', async (t) => {
    const { app } = await receiver(t, db, github, { keysRefreshInterval: 60_000 })
    const body = JSON.stringify([{ token: unknownKey(), type: 'acme_api_key' }])
    const before = github.fetches
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(body), payload: body })).statusCode, 200)
    t.equal(github.fetches - before, 1, 'one fetch for three reports')
    github.addKey('k2')
    const res = await app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(body, 'k2'), payload: body })
    t.equal(res.statusCode, 401, 'a new id within the interval: not fetched again (made-up ids cannot make it hammer GitHub)')
    t.equal(github.fetches - before, 1)

    const fresh = await receiver(t, db, github)
    github.down = true
    const down = await fresh.app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(body, 'k2'), payload: body })
    t.equal(down.statusCode, 503)
    t.match(down.json(), { code: 'FST_API_KEY_LEAK_KEYS', message: /answered 502/ })
    github.down = false
    github.empty = true
    t.match((await fresh.app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(body, 'k2'), payload: body })).json(), { statusCode: 503, message: /gave no public_keys list/ })
    github.empty = false
    t.equal((await fresh.app.inject({ method: 'POST', url: '/github/secret-scanning', headers: github.sign(body, 'k2'), payload: body })).statusCode, 200, 'back: the new key is fetched and works')
  })
})

t.test('the guide\'s registration', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
  // docs/leaks.md: the endpoint (GitHub's keys are never fetched: no report is posted)
  await app.register(apiKeySecretScanning, {
    prefix: '/github/secret-scanning',
    onLeak: ({ apiKey, url }) => { app.log.warn({ id: apiKey.id, url }, 'API key found in public code: revoked') }
  })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/github/secret-scanning', headers: { 'content-type': 'application/json' }, payload: '[]' })
  t.equal(res.statusCode, 401, 'unsigned: refused before any fetch')
})

t.test('options', async (t) => {
  const model = { create () {}, findUnique () {}, findMany () {}, count () {}, update () {}, updateMany () {} } as any
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ action: 'delete' }, /action: expected 'revoke' or 'report'/],
    [{ onLeak: 'log' }, /onLeak: expected a function/],
    [{ keysUrl: 'not a url' }, /keysUrl: expected the URL/],
    [{ keysHeaders: 'token' }, /keysHeaders: expected an object/],
    [{ keysRefreshInterval: -1 }, /keysRefreshInterval: expected milliseconds/],
    [{ bodyLimit: 0 }, /bodyLimit: expected bytes/],
    [{ revoke: true }, /revoke: unknown option/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await app.register(apiKeyPlugin, { model, hashThreads: 1 })
    app.register(apiKeySecretScanning, options as any)
    await t.rejects(async () => await app.ready(), { code: 'FST_API_KEY_INVALID_OPTION', message }, message.source)
  }
  const alone = Fastify()
  alone.register(apiKeySecretScanning, {})
  await t.rejects(async () => await alone.ready(), { code: 'FST_API_KEY_INVALID_OPTION', message: /manager: register apiKeyPlugin before apiKeySecretScanning/ })
  const odd = Fastify()
  odd.register(apiKeySecretScanning, 'x' as any)
  await t.rejects(async () => await odd.ready(), { code: 'FST_API_KEY_INVALID_OPTION' })
})

t.test('GitHub\'s address by default', async (t) => {
  const { GITHUB_KEYS_URL } = await import('../src/index.ts')
  t.equal(GITHUB_KEYS_URL, 'https://api.github.com/meta/public_keys/secret_scanning')
})
