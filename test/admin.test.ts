import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify'
import t from 'tap'
import apiKeyPlugin, { apiKeyAdmin, createApiKeyManager, type ApiKeyAdminOptions, type ApiKeyPluginOptions } from '../src/index.ts'
import { auth, FAST_SCRYPT } from './helpers/app.ts'
import { dailyUsage } from '../src/admin/usage-chart.ts'
import { eachDatabase, openDatabase, type TestDatabase } from './helpers/databases.ts'

const PREFIX = '/admin/api-keys'
const ADMIN = { authorization: 'Basic ' + Buffer.from('admin:s3cret').toString('base64') }
const API = { ...ADMIN, 'x-api-key-admin': '1' }

// The app's own guard: here, basic auth.
const guard: ApiKeyAdminOptions['guard'] = async (request, reply) => {
  if (request.headers.authorization !== ADMIN.authorization) {
    await reply.code(401).header('www-authenticate', 'Basic realm="admin"').send({ message: 'admin only' })
  }
}

async function build (db: TestDatabase, options: Partial<ApiKeyAdminOptions> = {}, features: Partial<ApiKeyPluginOptions> = {}): Promise<FastifyInstance> {
  // trustProxy: tests set the client's address with X-Forwarded-For.
  const app = Fastify({ trustProxy: true })
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, ...features })
  await app.register(apiKeyAdmin, { prefix: PREFIX, guard, ...options })
  app.get('/protected', { config: { apiKey: true } }, async () => ({ ok: true }))
  app.get('/orders', { config: { apiKey: { scopes: ['orders:read'] } } }, async () => ({ orders: [] }))
  await app.ready()
  return app
}

const ROUTES: InjectOptions[] = [
  { method: 'GET', url: `${PREFIX}/` },
  { method: 'GET', url: `${PREFIX}/app.js` },
  { method: 'GET', url: `${PREFIX}/app.css` },
  { method: 'GET', url: `${PREFIX}/api/meta` },
  { method: 'GET', url: `${PREFIX}/api/keys` },
  { method: 'GET', url: `${PREFIX}/api/keys/some-id` },
  { method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x' } },
  { method: 'POST', url: `${PREFIX}/api/keys/some-id/revoke`, payload: {} },
  { method: 'POST', url: `${PREFIX}/api/keys/some-id/rotate`, payload: { gracePeriod: 0 } }
]
const HOUR = 60 * 60 * 1000

t.test('registration', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const bare = Fastify()
  await bare.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT })
  await t.rejects(async () => { await bare.register(apiKeyAdmin, { prefix: PREFIX } as any) }, { code: 'FST_API_KEY_INVALID_OPTION', message: /option guard: the admin panel needs the app's own check/ })
  await bare.close()
  for (const [options, message] of [
    [{ guard, title: '' }, /option title/],
    [{ guard, title: 5 }, /option title/],
    [{ guard, columns: [{ label: 'x' }] }, /option columns/],
    [{ guard, columns: 'org' }, /option columns/],
    [{ guard, colour: 'blue' }, /option colour: unknown option/],
    // Awaited for who it identified: a done callback would never be called.
    [{ guard: (_request: unknown, _reply: unknown, done: () => void) => { done() } }, /option guard: expected an async function \(request, reply\), not a callback-style hook/]
  ] as const) {
    const app = Fastify()
    await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT })
    await t.rejects(async () => { await app.register(apiKeyAdmin, options as any) }, { code: 'FST_API_KEY_INVALID_OPTION', message })
    await app.close()
  }
  const lonely = Fastify()
  await t.rejects(async () => { await lonely.register(apiKeyAdmin, { guard }) }, { code: 'FST_API_KEY_INVALID_OPTION', message: /register apiKeyPlugin before apiKeyAdmin/ })

  const manager = createApiKeyManager({ model: db.prisma.apiKey, scrypt: FAST_SCRYPT })
  const standalone = Fastify()
  await standalone.register(apiKeyAdmin, { guard, manager, prefix: PREFIX })
  t.teardown(() => manager.close())
  t.equal((await standalone.inject({ url: `${PREFIX}/api/keys`, headers: API })).statusCode, 200, 'a manager can be passed instead')
})

// What the socket receives, byte for byte: inject and fetch would normalise the path first.
async function rawGet (port: number, path: string): Promise<{ status: number, location: string | undefined }> {
  const response = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${ADMIN.authorization}\r\n\r\n`))
    let text = ''
    socket.on('data', (chunk) => { text += chunk })
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
  return { status: Number(response.split(' ')[1]), location: /^location: (.*)$/im.exec(response)?.[1].trim() }
}

t.test('the slash redirect stays on the site, whatever the prefix\'s parameters hold', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  // Duplicate slashes ignored: a router setting that lets //evil.example/... match too.
  for (const routerOptions of [{}, { ignoreDuplicateSlashes: true }]) {
    const app = Fastify({ routerOptions })
    await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
    await app.register(apiKeyAdmin, { prefix: '/:org/admin/keys', guard })
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const port = Number(new URL(base).port)
    const paths = ['/acme/admin/keys', '/\\evil.example/admin/keys', '/\\\\evil.example/admin/keys', '/%5Cevil.example/admin/keys']
    if (routerOptions.ignoreDuplicateSlashes === true) paths.push('//evil.example/admin/keys')
    for (const path of paths) {
      const { status, location } = await rawGet(port, path)
      t.equal(status, 302, `${JSON.stringify(routerOptions)} ${path} is redirected`)
      // Where a browser goes: the WHATWG URL parser reads "\\" as "/", as browsers do.
      const target = new URL(location as string, base + path)
      t.equal(target.origin, base, `to ${location}: on the site`)
      t.ok(target.pathname.endsWith('/admin/keys/'), `to the panel with its slash (${target.pathname})`)
    }
    await app.close()
  }
})

// The API's schemas are compiled by the app's Ajv: they hold whether it coerces or strips.
t.test('the JSON API with an app\'s own Ajv settings', async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  for (const customOptions of [{ coerceTypes: false }, { removeAdditional: 'all' as const }, {}]) {
    const app = Fastify({ ajv: { customOptions } })
    await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
    await app.register(apiKeyAdmin, { prefix: PREFIX, guard })
    const call = async (options: InjectOptions): Promise<any> => await app.inject({ ...options, headers: API })
    const label = JSON.stringify(customOptions)
    const created = await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: `ajv ${label}`, expiresAt: '30d', scopes: ['orders:read'] } })
    t.equal(created.statusCode, 201, `${label}: created`)
    t.match(created.json().apiKey, { name: `ajv ${label}`, scopes: 'orders:read' }, 'with its name and scopes')
    const listed = (await call({ url: `${PREFIX}/api/keys?pageSize=10&page=1&search=ajv&status=active` })).json()
    t.same([listed.page, listed.pageSize], [1, 10], 'the query is read')
    t.ok(listed.items.some((k: any) => k.id === created.json().apiKey.id))
    const rotated = await call({ method: 'POST', url: `${PREFIX}/api/keys/${created.json().apiKey.id}/rotate`, payload: { gracePeriod: 60_000 } })
    t.ok(Date.parse(rotated.json().apiKey.previousKeyExpiresAt) > Date.now(), 'the grace period is read')
    for (const [payload, field] of [[{ name: 'x', scopes: 'orders:read' }, 'scopes'], [{ name: 5 }, 'name'], [{ name: 'x', expiresAt: ['30d'] }, 'expiresAt']] as const) {
      const refused = await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload })
      t.equal(refused.statusCode, 400, `${label}: ${JSON.stringify(payload)} refused, not coerced`)
      t.match(refused.json().message, field === 'name' ? /non-empty name/ : new RegExp(`^Invalid argument ${field}`))
    }
    t.equal((await call({ method: 'POST', url: `${PREFIX}/api/keys/${created.json().apiKey.id}/rotate`, payload: { gracePeriod: null } })).statusCode, 400, 'a null grace period is refused, not read as 0')
    await app.close()
  }
})

eachDatabase(t, async (t, db) => {
  const app = await build(db, { title: 'Partner <keys>', columns: [{ label: 'Name length', value: (k) => k.name.length }] })
  t.teardown(() => app.close())

  t.test('the guard runs before every route, page and asset', async (t) => {
    for (const route of ROUTES) {
      const res = await app.inject({ ...route, headers: { 'x-api-key-admin': '1' } })
      t.equal(res.statusCode, 401, `${route.method} ${route.url}`)
      t.same(res.json(), { message: 'admin only' })
    }
  })

  t.test('the JSON API refuses requests the page did not send', async (t) => {
    for (const route of ROUTES.filter((r) => String(r.url).includes('/api/'))) {
      const res = await app.inject({ ...route, headers: ADMIN })
      t.equal(res.statusCode, 403, `no header: ${route.method} ${route.url}`)
      t.equal(res.json().code, 'FST_API_KEY_ADMIN_CSRF')
      t.equal(res.json().message, 'Admin API calls must come from the admin page (header x-api-key-admin: 1, same site)')
      const cross = await app.inject({ ...route, headers: { ...API, 'sec-fetch-site': 'cross-site' } })
      t.equal(cross.statusCode, 403, `cross-site: ${route.method} ${route.url}`)
    }
    // What a hostile page's <form> can send: no custom header, a form body.
    const form = await app.inject({ method: 'POST', url: `${PREFIX}/api/keys`, headers: { ...ADMIN, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=evil' })
    t.equal(form.statusCode, 403)
    const plain = await app.inject({ method: 'POST', url: `${PREFIX}/api/keys`, headers: { ...API, 'content-type': 'text/plain' }, payload: '{"name":"evil"}' })
    t.equal(plain.statusCode, 400, 'and a body that is not JSON is never read as one')
    t.equal((await app.apiKeys.list({ where: { name: 'evil' } })).total, 0)

    // The router decodes %61 to "a": the check is bound to the routes, not to how their URL is spelled.
    const { apiKey, key } = await app.apiKeys.create({ name: 'target' })
    for (const url of [`${PREFIX}/%61pi/keys/${apiKey.id}/rotate`, `${PREFIX}/api/keys/${apiKey.id}/%72otate`, `${PREFIX}/%61pi/keys/${apiKey.id}/revoke`]) {
      const encoded = await app.inject({ method: 'POST', url, headers: { ...ADMIN, 'content-type': 'text/plain' }, payload: '{}' })
      t.equal(encoded.statusCode, 403, url)
      t.equal(encoded.json().code, 'FST_API_KEY_ADMIN_CSRF')
      t.equal((await app.inject({ method: 'POST', url, payload: {} })).statusCode, 401, 'and the guard runs first')
    }
    t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200, 'neither rotated nor revoked')
    t.equal((await app.inject({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/revoke`, headers: { ...API, 'content-type': 'text/plain' }, payload: '{}' })).statusCode, 400, 'write calls take JSON only')
    t.equal((await app.inject({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/rotate`, headers: { ...API, 'content-type': 'text/plain' }, payload: '{}' })).statusCode, 400)
    t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200)
  })

  t.test('the page and its assets', async (t) => {
    const redirect = await app.inject({ url: PREFIX, headers: ADMIN })
    t.equal(redirect.statusCode, 302)
    t.equal(new URL(redirect.headers.location as string, `http://localhost${PREFIX}`).pathname, `${PREFIX}/`)
    const page = await app.inject({ url: `${PREFIX}/`, headers: ADMIN })
    t.equal(page.statusCode, 200)
    t.match(page.headers['content-type'], /text\/html/)
    t.match(page.headers['content-security-policy'], /script-src 'self'/)
    t.match(page.headers['content-security-policy'], /frame-ancestors 'none'/)
    t.equal(page.headers['cache-control'], 'no-store')
    t.match(page.body, '<title>Partner &#60;keys&#62;</title>')
    t.notMatch(page.body, /<script>/, 'no inline script')
    const js = await app.inject({ url: `${PREFIX}/app.js`, headers: ADMIN })
    t.match(js.headers['content-type'], /javascript/)
    t.notMatch(js.body, /innerHTML/, 'the script never renders markup')
    const css = await app.inject({ url: `${PREFIX}/app.css`, headers: ADMIN })
    t.match(css.headers['content-type'], /text\/css/)
    // Served as shipped, linted and type-checked: the files in assets/admin/.
    for (const [name, res] of [['app.js', js], ['app.css', css]] as const) {
      t.equal(res.body, readFileSync(new URL(`../assets/admin/${name}`, import.meta.url), 'utf8'), `${name} is assets/admin/${name}`)
    }
    t.same((await app.inject({ url: `${PREFIX}/api/meta`, headers: API })).json(), {
      title: 'Partner <keys>', columns: ['Name length'], statuses: ['active', 'revoked', 'expired'], pageSizes: [10, 25, 50, 100], suspension: false, ipAllowlist: false, credits: false, usage: false, audit: false
    })
    t.equal((await app.inject({ url: `${PREFIX}/api/keys/some-id/usage`, headers: API })).statusCode, 404, 'no usage chart without the history')
    t.equal((await app.inject({ method: 'POST', url: `${PREFIX}/api/keys/some-id/disable`, headers: API, payload: {} })).statusCode, 404, 'no disable without the feature')
    t.equal((await app.inject({ method: 'POST', url: `${PREFIX}/api/keys/some-id/allowed-ips`, headers: API, payload: { allowedIps: null } })).statusCode, 404, 'nor allowed-ips')
    t.equal((await app.inject({ method: 'POST', url: `${PREFIX}/api/keys/some-id/credits`, headers: API, payload: { credits: null } })).statusCode, 404, 'nor credits')
  })

  t.test('create, use, list, filter, page, show and revoke', async (t) => {
    const responses: string[] = []
    const call = async (options: InjectOptions): Promise<any> => {
      const res = await app.inject({ ...options, headers: API })
      responses.push(res.body)
      return res
    }
    const created = await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'from the panel', expiresAt: new Date(Date.now() + 86_400_000).toISOString() } })
    t.equal(created.statusCode, 201)
    const { apiKey, key } = created.json()
    t.match(key, app.apiKeys.keyPattern)
    t.equal(apiKey.status, 'active')
    t.same(apiKey.columns, ['from the panel'.length])
    t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 200, 'the new key works')

    for (let i = 0; i < 11; i++) await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: `batch ${String(i).padStart(2, '0')}` } })
    const first = (await call({ url: `${PREFIX}/api/keys?pageSize=10` })).json()
    t.equal(first.items.length, 10)
    t.ok(first.total >= 12)
    const second = (await call({ url: `${PREFIX}/api/keys?pageSize=10&page=2` })).json()
    t.ok(second.items.length >= 2)
    t.same(first.items.filter((a: any) => second.items.some((b: any) => b.id === a.id)), [], 'pages do not overlap')
    const asThePageAsks = (await call({ url: `${PREFIX}/api/keys?page=1&search=&status=` })).json()
    t.same([asThePageAsks.total, asThePageAsks.pageSize], [first.total, 25], 'an empty search and status filter nothing; the page size is 25 unless asked')

    const byName = (await call({ url: `${PREFIX}/api/keys?search=batch%2007` })).json()
    t.same(byName.items.map((k: any) => k.name), ['batch 07'])
    const byPrefix = (await call({ url: `${PREFIX}/api/keys?search=${apiKey.prefix.slice(0, 6)}` })).json()
    t.ok(byPrefix.items.some((k: any) => k.id === apiKey.id))

    const shown = await call({ url: `${PREFIX}/api/keys/${apiKey.id}` })
    t.equal(shown.json().name, 'from the panel')
    const revoked = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/revoke`, payload: {} })
    t.equal(revoked.json().status, 'revoked')
    t.equal((await app.inject({ url: '/protected', headers: auth(key) })).statusCode, 401, 'refused once revoked')
    t.equal((await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/revoke`, payload: {} })).json().status, 'revoked')
    const onlyRevoked = (await call({ url: `${PREFIX}/api/keys?status=revoked` })).json()
    t.same(onlyRevoked.items.map((k: any) => k.id), [apiKey.id])
    t.notOk((await call({ url: `${PREFIX}/api/keys?status=active&pageSize=100` })).json().items.some((k: any) => k.id === apiKey.id))

    for (const body of responses) {
      t.notMatch(body, /\$scrypt\$/, 'no hash in any response')
      t.notMatch(body, /hashedKey/)
    }
    t.equal(responses.filter((body) => body.includes(key)).length, 1, 'the key appears in the create response only')
  })

  t.test('scopes and rotation', async (t) => {
    const responses: string[] = []
    const call = async (options: InjectOptions): Promise<any> => {
      const res = await app.inject({ ...options, headers: API })
      responses.push(res.body)
      return res
    }
    const orders = async (key: string): Promise<number> => (await app.inject({ url: '/orders', headers: auth(key) })).statusCode

    const created = await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'orders app', scopes: ['orders:read', 'billing:*'] } })
    t.equal(created.statusCode, 201)
    const { apiKey, key: original } = created.json()
    t.equal(apiKey.scopes, 'orders:read billing:*')
    t.equal(apiKey.previousKeyExpiresAt, null)
    t.equal(await orders(original), 200, 'the scope works')
    const unscoped = (await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'no scopes', scopes: [] } })).json()
    t.equal(unscoped.apiKey.scopes, '')
    t.equal(await orders(unscoped.key), 403, 'a key without it is refused')
    t.equal((await call({ url: `${PREFIX}/api/keys?search=orders%20app` })).json().items[0].scopes, 'orders:read billing:*', 'the list shows scopes')

    const before = Date.now()
    const graced = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/rotate`, payload: { gracePeriod: HOUR } })
    t.equal(graced.statusCode, 200)
    const { apiKey: rotated, key: second } = graced.json()
    t.match(second, app.apiKeys.keyPattern)
    t.not(second, original)
    t.match(rotated, { id: apiKey.id, name: 'orders app', prefix: apiKey.prefix, scopes: 'orders:read billing:*', status: 'active' })
    const until = Date.parse(rotated.previousKeyExpiresAt)
    t.ok(until >= before + HOUR && until <= Date.now() + HOUR, 'the old secret works for an hour')
    t.equal(await orders(second), 200, 'the new key works, with the same scopes')
    t.equal(await orders(original), 200, 'the old one too, during the grace period')
    t.equal((await call({ url: `${PREFIX}/api/keys/${apiKey.id}` })).json().previousKeyExpiresAt, rotated.previousKeyExpiresAt, 'the details show until when')

    const now = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/rotate`, payload: {} })
    t.equal(now.statusCode, 200, 'no grace period by default')
    const third = now.json().key
    t.equal(await orders(third), 200)
    t.equal(await orders(second), 401, 'the secret it replaced stops at once')
    t.equal(await orders(original), 401)

    await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/revoke`, payload: {} })
    const refused = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/rotate`, payload: { gracePeriod: HOUR } })
    t.equal(refused.statusCode, 409, 'a revoked key cannot be rotated')
    t.equal(refused.json().code, 'FST_API_KEY_NOT_ROTATABLE')
    t.equal(await orders(third), 401)

    for (const body of responses) t.notMatch(body, /\$scrypt\$|hashedKey/, 'no hash in any response')
    for (const [key, where] of [[original, 'create'], [second, 'first rotation'], [third, 'second rotation']]) {
      t.equal(responses.filter((body) => body.includes(key)).length, 1, `each key in one response: the ${where}`)
    }
  })

  t.test('bad input is a 4xx with a code', async (t) => {
    const cases: Array<[InjectOptions, number, string]> = [
      [{ url: `${PREFIX}/api/keys?status=gone` }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ url: `${PREFIX}/api/keys?pageSize=7` }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ url: `${PREFIX}/api/keys?page=0` }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ url: `${PREFIX}/api/keys?page=abc` }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ url: `${PREFIX}/api/keys?search=a&search=b` }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ url: `${PREFIX}/api/keys/missing` }, 404, 'FST_API_KEY_NOT_FOUND'],
      [{ method: 'POST', url: `${PREFIX}/api/keys/missing/revoke`, payload: {} }, 404, 'FST_API_KEY_NOT_FOUND'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: '' } }, 400, 'FST_API_KEY_NAME_REQUIRED'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x', expiresAt: 'soon' } }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x', expiresAt: '2001-01-01' } }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x', expiresAt: 5 } }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x', expiresAt: { date: '2099-01-01' } } }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, headers: { 'content-type': 'application/json' }, payload: 'null' }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x', scopes: ['orders read'] } }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x', scopes: 'orders:read' } }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys/missing/rotate`, payload: {} }, 404, 'FST_API_KEY_NOT_FOUND'],
      [{ method: 'POST', url: `${PREFIX}/api/keys/missing/rotate`, payload: { gracePeriod: -1 } }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys/missing/rotate`, payload: { gracePeriod: '1h' } }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys/missing/rotate`, headers: { 'content-type': 'application/json' }, payload: '[]' }, 400, 'FST_API_KEY_INVALID_ARGUMENT'],
      [{ method: 'POST', url: `${PREFIX}/api/keys/missing/revoke`, headers: { 'content-type': 'application/json' }, payload: 'null' }, 400, 'FST_API_KEY_INVALID_ARGUMENT']
    ]
    for (const [options, status, code] of cases) {
      const res = await app.inject({ ...options, headers: { ...API, ...(options.headers as object) } })
      t.equal(res.statusCode, status, `${options.method ?? 'GET'} ${options.url} ${JSON.stringify(options.payload)}`)
      t.equal(res.json().code, code)
    }
  })

  t.test('a refusal names the field and what it takes', async (t) => {
    const cases: Array<[InjectOptions, string]> = [
      [{ url: `${PREFIX}/api/keys?status=gone` }, 'Invalid argument query: status must be one of active, revoked, expired'],
      [{ url: `${PREFIX}/api/keys?pageSize=7` }, 'Invalid argument query: pageSize must be one of 10, 25, 50, 100'],
      [{ url: `${PREFIX}/api/keys?page=0` }, 'Invalid argument query: page must be a positive integer'],
      [{ url: `${PREFIX}/api/keys?search=a&search=b` }, 'Invalid argument query: search must be text'],
      [{ url: `${PREFIX}/api/keys/` }, 'Invalid argument id: expected a non-empty string'],
      [{ method: 'POST', url: `${PREFIX}/api/keys//revoke`, payload: {} }, 'Invalid argument id: expected a non-empty string'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, headers: { 'content-type': 'application/json' }, payload: 'null' }, 'Invalid argument body: expected a JSON object { name, expiresAt, scopes }'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x', expiresAt: 5 } }, 'Invalid argument expiresAt: use a date like 2027-01-31 or a duration like 30d, 12h, 90m, 2w, 1y'],
      [{ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'x', expiresAt: { date: '2099-01-01' } } }, 'Invalid argument expiresAt: use a date like 2027-01-31 or a duration like 30d, 12h, 90m, 2w, 1y'],
      [{ method: 'POST', url: `${PREFIX}/api/keys/missing/rotate`, headers: { 'content-type': 'application/json' }, payload: '[]' }, 'Invalid argument body: expected a JSON object { gracePeriod } (milliseconds)'],
      [{ method: 'POST', url: `${PREFIX}/api/keys/missing/revoke`, headers: { 'content-type': 'text/plain' }, payload: '{}' }, 'Invalid argument body: expected a JSON object {}']
    ]
    for (const [options, message] of cases) {
      const res = await app.inject({ ...options, headers: { ...API, ...(options.headers as object) } })
      t.same([res.statusCode, res.json().code, res.json().message], [400, 'FST_API_KEY_INVALID_ARGUMENT', message], `${options.method ?? 'GET'} ${options.url} ${JSON.stringify(options.payload)}`)
    }
  })
})

eachDatabase(t, async (t, db) => {
  const app = await build(db, {}, { suspension: true, ipAllowlist: true, credits: true, usage: { model: db.prisma.apiKeyUsage } })
  t.teardown(() => app.close())
  const call = async (options: InjectOptions): Promise<any> => await app.inject({ ...options, headers: API })
  const use = async (key: string, ip = '192.0.2.1'): Promise<string> => (await app.inject({ url: '/protected', headers: { ...auth(key), 'x-forwarded-for': ip } })).json().code ?? 'ok'

  t.test('with usage: the chart\'s 30 days, today last', async (t) => {
    t.match((await call({ url: `${PREFIX}/api/meta` })).json(), { usage: true })
    const { apiKey, key } = (await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'counted' } })).json()
    const before = (await call({ url: `${PREFIX}/api/keys/${apiKey.id}/usage` })).json().days
    t.equal(before.length, 30)
    t.equal(before.at(-1).day, new Date().toISOString().slice(0, 10))
    t.ok(before.every((d: { count: number }) => d.count === 0), 'nothing counted yet')
    for (let i = 0; i < 3; i++) t.equal(await use(key), 'ok')
    await app.apiKeys.flush()
    const after = (await call({ url: `${PREFIX}/api/keys/${apiKey.id}/usage` })).json().days
    t.equal(after.at(-1).count, 3, 'today\'s bar holds the three calls')
    t.equal(after.reduce((sum: number, d: { count: number }) => sum + d.count, 0), 3)
    t.equal((await call({ url: `${PREFIX}/api/keys/missing/usage` })).json().days.length, 30, 'an unknown id has no counts')
  })

  t.test('with ipAllowlist: create with addresses, change them, remove them', async (t) => {
    t.match((await call({ url: `${PREFIX}/api/meta` })).json(), { ipAllowlist: true })
    const created = await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'office', allowedIps: '203.0.113.0/24, 2001:db8::/32' } })
    t.equal(created.statusCode, 201)
    const { apiKey, key } = created.json()
    t.equal(apiKey.allowedIps, '203.0.113.0/24 2001:db8::/32')
    t.same([await use(key, '203.0.113.5'), await use(key, '198.51.100.5')], ['ok', 'FST_API_KEY_IP_NOT_ALLOWED'])
    const changed = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/allowed-ips`, payload: { allowedIps: ['198.51.100.5'] } })
    t.equal(changed.json().allowedIps, '198.51.100.5')
    t.same([await use(key, '203.0.113.5'), await use(key, '198.51.100.5')], ['FST_API_KEY_IP_NOT_ALLOWED', 'ok'])
    t.equal((await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/allowed-ips`, payload: { allowedIps: null } })).json().allowedIps, null)
    t.equal(await use(key, '203.0.113.5'), 'ok', 'from anywhere again')
    const bad = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/allowed-ips`, payload: { allowedIps: 'office network' } })
    t.same([bad.statusCode, bad.json().code], [400, 'FST_API_KEY_INVALID_ARGUMENT'])
    t.match(bad.json().message, /allowedIps: "office" is not an IPv4 or IPv6 address/)
    const none = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/allowed-ips`, payload: {} })
    t.equal(none.json().message, 'Invalid argument body: expected a JSON object { allowedIps } (addresses and CIDR ranges, or null for anywhere)')
    t.equal((await call({ method: 'POST', url: `${PREFIX}/api/keys/missing/allowed-ips`, payload: { allowedIps: null } })).statusCode, 404)
  })

  t.test('without ipAllowlist, create refuses addresses', async (t) => {
    const plain = await build(db)
    t.teardown(() => plain.close())
    const refused = await plain.inject({ method: 'POST', url: `${PREFIX}/api/keys`, headers: API, payload: { name: 'no lists here', allowedIps: '10.0.0.1' } })
    t.same([refused.statusCode, refused.json().message], [400, 'Invalid argument allowedIps: this app has no IP allowlists (the ipAllowlist option)'])
    t.equal((await plain.apiKeys.list({ where: { name: 'no lists here' } })).total, 0, 'nothing created')
  })

  t.test('with credits: create with a balance and a refill, set them, make a key unlimited', async (t) => {
    t.match((await call({ url: `${PREFIX}/api/meta` })).json(), { credits: true })
    const created = await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'metered', credits: 2, creditRefill: 'Every:3600:2' } })
    t.equal(created.statusCode, 201)
    const { apiKey, key } = created.json()
    t.match(apiKey, { credits: 2, creditRefill: 'every:3600:2' }, 'the policy as the manager stores it')
    t.same([await use(key), await use(key), await use(key)], ['ok', 'ok', 'FST_API_KEY_USAGE_EXCEEDED'])
    const credits = async (id: string, payload: object): Promise<any> => await call({ method: 'POST', url: `${PREFIX}/api/keys/${id}/credits`, payload })

    const set = await credits(apiKey.id, { credits: 1, creditRefill: null })
    t.equal(set.statusCode, 200)
    t.match(set.json(), { id: apiKey.id, status: 'active', credits: 1, creditRefill: null })
    t.same([await use(key), await use(key)], ['ok', 'FST_API_KEY_USAGE_EXCEEDED'], 'the new balance holds at once')
    t.match((await credits(apiKey.id, { credits: 3, creditRefill: 'day:100:add' })).json(), { credits: 3, creditRefill: 'day:100:add' })
    t.match((await credits(apiKey.id, { credits: 4 })).json(), { credits: 4, creditRefill: 'day:100:add' }, 'without creditRefill the policy stays')
    t.match((await call({ url: `${PREFIX}/api/keys/${apiKey.id}` })).json(), { credits: 4, creditRefill: 'day:100:add' }, 'the details show both')

    const unlimited = await credits(apiKey.id, { credits: null, creditRefill: null })
    t.match(unlimited.json(), { credits: null, creditRefill: null })
    t.same([await use(key), await use(key), await use(key), await use(key), await use(key)], ['ok', 'ok', 'ok', 'ok', 'ok'], 'unlimited')

    const bad = await credits(apiKey.id, { credits: 5, creditRefill: 'weekly' })
    t.same([bad.statusCode, bad.json().code], [400, 'FST_API_KEY_INVALID_ARGUMENT'])
    t.match(bad.json().message, /^Invalid argument creditRefill: "weekly": expected day:AMOUNT, month:DAY:AMOUNT or every:SECONDS:AMOUNT/, 'the manager\'s reason')
    for (const [payload, message] of [
      [{ credits: -1 }, 'Invalid argument credits: expected an integer from 0 to 2147483647, or null for unlimited'],
      [{ credits: '5' }, 'Invalid argument credits: expected an integer from 0 to 2147483647, or null for unlimited'],
      [{ credits: null, creditRefill: 'day:5' }, 'Invalid argument creditRefill: needs credits: a key without credits is unlimited, there is nothing to refill'],
      [{ creditRefill: 'day:5' }, 'Invalid argument body: expected a JSON object { credits, creditRefill } (credits: an integer, or null for unlimited)']
    ] as const) {
      const refused = await credits(apiKey.id, payload)
      t.same([refused.statusCode, refused.json().message], [400, message], JSON.stringify(payload))
    }
    t.match((await call({ url: `${PREFIX}/api/keys/${apiKey.id}` })).json(), { credits: null, creditRefill: null }, 'nothing refused was written')
    t.equal((await credits('missing', { credits: 1 })).statusCode, 404)

    const noBalance = await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'refill only', creditRefill: 'day:5' } })
    t.same([noBalance.statusCode, noBalance.json().message], [400, 'Invalid argument creditRefill: needs credits: a key without credits is unlimited, there is nothing to refill'])
    const badCreate = await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'bad policy', credits: 5, creditRefill: 'month:32:5' } })
    t.same([badCreate.statusCode, badCreate.json().code], [400, 'FST_API_KEY_INVALID_ARGUMENT'])
    t.match(badCreate.json().message, /^Invalid argument creditRefill: "month:32:5": expected/)
    t.equal((await app.apiKeys.list({ where: { name: { in: ['refill only', 'bad policy'] } } })).total, 0, 'nothing created')
    const body = await app.inject({ method: 'POST', url: `${PREFIX}/api/keys`, headers: { ...API, 'content-type': 'application/json' }, payload: '[]' })
    t.equal(body.json().message, 'Invalid argument body: expected a JSON object { name, expiresAt, scopes, allowedIps, credits, creditRefill }')
  })

  t.test('without credits, create refuses a balance or a refill', async (t) => {
    const plain = await build(db)
    t.teardown(() => plain.close())
    for (const [payload, field] of [[{ name: 'no credits here', credits: 5 }, 'credits'], [{ name: 'no credits here', creditRefill: 'day:5' }, 'creditRefill']] as const) {
      const refused = await plain.inject({ method: 'POST', url: `${PREFIX}/api/keys`, headers: API, payload })
      t.same([refused.statusCode, refused.json().message], [400, `Invalid argument ${field}: this app has no credits (the credits option)`])
    }
    t.equal((await plain.apiKeys.list({ where: { name: 'no credits here' } })).total, 0, 'nothing created')
  })

  t.test('with suspension: disable, filter, enable; a revoked key stays revoked', async (t) => {
    t.match((await call({ url: `${PREFIX}/api/meta` })).json(), { statuses: ['active', 'disabled', 'revoked', 'expired'], suspension: true })
    const { apiKey, key } = (await call({ method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'partner' } })).json()
    t.equal(await use(key), 'ok')
    const disabled = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/disable`, payload: {} })
    t.match(disabled.json(), { status: 'disabled', disabled: true })
    t.equal(await use(key), 'FST_API_KEY_DISABLED')
    t.same((await call({ url: `${PREFIX}/api/keys?status=disabled` })).json().items.map((k: any) => k.id), [apiKey.id])
    t.match((await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/enable`, payload: {} })).json(), { status: 'active', disabled: false })
    t.equal(await use(key), 'ok')
    await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/revoke`, payload: {} })
    const refused = await call({ method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/enable`, payload: {} })
    t.same([refused.statusCode, refused.json().code], [409, 'FST_API_KEY_ENABLE_REVOKED'])
    t.equal((await call({ method: 'POST', url: `${PREFIX}/api/keys/missing/disable`, payload: {} })).statusCode, 404)
    const bad = await call({ url: `${PREFIX}/api/keys?status=gone` })
    t.equal(bad.json().message, 'Invalid argument query: status must be one of active, disabled, revoked, expired')
  })

  t.test('with an audit log: the guard\'s answer is the actor of each change, and the history route lists them', async (t) => {
    t.equal((await call({ url: `${PREFIX}/api/meta` })).json().audit, false)
    t.equal((await call({ url: `${PREFIX}/api/keys/some-id/events` })).statusCode, 404, 'no audit model, no route')
    // Who the guard identified: the basic auth user; null (nobody said) for a guard that returns nothing.
    const identify: ApiKeyAdminOptions['guard'] = async (request, reply) => {
      await guard(request, reply)
      return request.headers['x-admin-name']
    }
    const audited = await build(db, { guard: identify }, { suspension: true, audit: { model: db.prisma.apiKeyEvent } })
    t.teardown(() => audited.close())
    const as = async (name: string | undefined, options: InjectOptions): Promise<any> =>
      await audited.inject({ ...options, headers: { ...API, ...(name === undefined ? {} : { 'x-admin-name': name }) } })
    t.equal((await as(undefined, { url: `${PREFIX}/api/meta` })).json().audit, true)
    const { apiKey } = (await as('alice@example.com', { method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'audited' } })).json()
    await as('bob@example.com', { method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/rotate`, payload: { gracePeriod: 0 } })
    await as(undefined, { method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/disable`, payload: {} })
    await as('  ', { method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/enable`, payload: {} })
    await as('carol@example.com', { method: 'POST', url: `${PREFIX}/api/keys/${apiKey.id}/revoke`, payload: {} })
    const history = await as(undefined, { url: `${PREFIX}/api/keys/${apiKey.id}/events` })
    t.equal(history.statusCode, 200)
    const { events } = history.json()
    t.same(events.map(({ type, actor }: any) => [type, actor]), [
      ['revoked', 'carol@example.com'], ['enabled', null], ['disabled', null], ['rotated', 'bob@example.com'], ['created', 'alice@example.com']
    ], 'newest first; a blank or missing answer names nobody')
    t.same(Object.keys(events[0]).sort(), ['actor', 'at', 'changes', 'details', 'id', 'type'])
    t.notMatch(history.body, /scrypt|hashedKey/)
    t.equal((await as(undefined, { url: `${PREFIX}/api/keys/missing/events` })).statusCode, 404)
    const long = await as('x'.repeat(200), { method: 'POST', url: `${PREFIX}/api/keys`, payload: { name: 'too long an actor' } })
    t.same([long.statusCode, long.json().message], [400, 'Invalid argument actor: expected a non-empty string of at most 191 characters'], 'refused, nothing created')
    t.equal((await audited.apiKeys.list({ where: { name: 'too long an actor' } })).total, 0)
    t.equal((await audited.inject({ url: `${PREFIX}/api/keys/${apiKey.id}/events`, headers: { 'x-api-key-admin': '1' } })).statusCode, 401, 'the history is behind the guard')
  })
})

t.test('dailyUsage: hours added into their UTC day, 30 days, today last', async (t) => {
  const now = Date.parse('2026-12-02T15:00:00Z')
  const days = dailyUsage([
    { periodStart: new Date('2026-11-02T00:00:00Z'), count: 7 },
    { periodStart: new Date('2026-11-03T00:00:00Z'), count: 1 },
    { periodStart: new Date('2026-12-02T09:00:00Z'), count: 2 },
    { periodStart: new Date('2026-12-02T14:00:00Z'), count: 5 },
    { periodStart: new Date('2026-12-03T00:00:00Z'), count: 9 }
  ], now)
  t.equal(days.length, 30)
  t.same(days[0], { day: '2026-11-03', count: 1 }, 'the day 30 days ago is not shown')
  t.same(days.at(-1), { day: '2026-12-02', count: 7 })
  t.equal(days.reduce((sum, d) => sum + d.count, 0), 8, 'nor tomorrow')
})
