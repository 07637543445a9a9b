// The admin panel in a real browser (Debian's Chromium, driven by
// playwright-core) against a running server: create a key with scopes from the
// page, use it, rotate it with a grace period, use both secrets, revoke it
// from the page, and see both refused. The browser runs in a time zone far
// from UTC, and the expiry date typed in the form is stored as the CLI stores
// the same date. It also takes the
// screenshots in docs/admin.md: `npm run screenshots` writes them there.
import { existsSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { chromium } from 'playwright-core'
import t from 'tap'
import apiKeyPlugin, { apiKeyAdmin } from '../src/index.ts'
import { FAST_SCRYPT } from './helpers/app.ts'
import { cli, CONFIG, databaseEnv } from './helpers/cli.ts'
import { openDatabase } from './helpers/databases.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SHOTS = process.env.SCREENSHOTS_DIR ?? join(tmpdir(), `admin-shots-${process.pid}`)
const USER = { username: 'admin', password: 's3cret' }
const BASIC = 'Basic ' + Buffer.from(`${USER.username}:${USER.password}`).toString('base64')
// Flags for a sandboxed, offline machine: no background connections to Google.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

const SKIP = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`

t.test('create, use, rotate and revoke a key from the panel', { skip: SKIP }, async (t) => {
  mkdirSync(SHOTS, { recursive: true })
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
  await app.register(apiKeyAdmin, {
    prefix: '/admin/api-keys',
    title: 'Acme partner API keys',
    guard: async (request, reply) => {
      if (request.headers.authorization !== BASIC) await reply.code(401).header('www-authenticate', 'Basic realm="admin"').send('admin only')
    }
  })
  app.get('/orders', { config: { apiKey: { scopes: ['orders:read'] } } }, async () => ({ orders: [] }))
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())

  // Some history, so the list looks like a real one; one name holds markup.
  const hostile = '<img src=x onerror="window.__xss=1">Reporting'
  const history: Array<[string, string[]]> = [['Billing service', ['billing:*']], ['Warehouse sync', ['orders:read', 'inventory:write']], [hostile, []]]
  for (const [name, scopes] of history) await app.apiKeys.create({ name, scopes })
  const old = await app.apiKeys.create({ name: 'Legacy importer' })
  await app.apiKeys.revoke(old.apiKey.id)
  await app.apiKeys.create({ name: 'Nightly export', expiresAt: new Date(Date.now() + 30 * 86_400_000) })

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())

  for (const path of ['', 'app.js', 'app.css', 'api/keys']) {
    t.equal((await fetch(`${base}/admin/api-keys/${path}`)).status, 401, `without the guard's credentials /${path} is refused`)
  }

  // UTC+13 in January: a date read in the browser's zone would be half a day off.
  const context = await browser.newContext({ httpCredentials: USER, viewport: { width: 1180, height: 720 }, timezoneId: 'Pacific/Auckland' })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base })
  const page = await context.newPage()
  const confirmations: string[] = []
  page.on('dialog', (dialog) => {
    confirmations.push(dialog.message())
    dialog.accept().catch(() => {})
  })
  await page.goto(`${base}/admin/api-keys`)
  await page.waitForSelector('#rows tr[data-id]')
  t.equal(await page.title(), 'Acme partner API keys')
  t.equal(await page.locator('#rows tr[data-id]').count(), 5)
  t.ok(await page.locator('td.name', { hasText: hostile }).count() === 1, 'a name with markup is shown as text')
  t.equal(await page.evaluate(() => (window as any).__xss), undefined, 'and never runs')
  await page.screenshot({ path: join(SHOTS, 'admin-list.png') })

  await page.click('#new')
  await page.fill('#create-name', 'Partner: Globex')
  await page.fill('#create-expires', '2099-01-31')
  await page.fill('#create-scopes', 'orders:read, orders write!')
  await page.click('#create-form button[type=submit]')
  await page.waitForSelector('#create-error:not([hidden])')
  t.match(await page.textContent('#create-error'), /"write!" is not a scope/, 'the server\'s check of the scopes is shown in the form')
  await page.fill('#create-scopes', 'orders:read, orders:write')
  t.equal(await page.isVisible('#create-error'), false, 'and cleared once the form is edited')
  await page.screenshot({ path: join(SHOTS, 'admin-create.png') })
  await page.click('#create-form button[type=submit]')
  await page.waitForSelector('#key-dialog[open]')
  const key = (await page.textContent('#new-key')) ?? ''
  t.match(key, app.apiKeys.keyPattern, 'the new key is shown')
  t.match(await page.textContent('#key-dialog .warning'), /only time the key is shown/)
  await page.click('#copy')
  t.equal(await page.evaluate(async () => await navigator.clipboard.readText()), key, 'the copy button copies it')
  await page.screenshot({ path: join(SHOTS, 'admin-new-key.png') })
  await page.click('#key-done')
  await page.waitForFunction(() => document.getElementById('new-key')?.textContent === '')
  t.pass('closing the dialog drops the key from the page')

  const [created] = (await app.apiKeys.list({ where: { name: 'Partner: Globex' } })).items
  const twin = await cli(['create', '--name', 'CLI twin', '--expires', '2099-01-31', '--json', '--config', CONFIG], await databaseEnv(db))
  t.equal(twin.code, 0, 'the CLI takes the same date')
  const fromCli = await app.apiKeys.get(JSON.parse(twin.stdout).apiKey.id)
  t.equal(created.expiresAt?.toISOString(), fromCli?.expiresAt?.toISOString(), 'the date from the form is stored as the CLI stores it')
  t.equal(created.expiresAt?.toISOString(), '2099-02-01T00:00:00.000Z', 'through that day, in UTC')

  const call = async (key: string): Promise<number> => (await fetch(`${base}/orders`, { headers: { authorization: `Api-Key ${key}` } })).status
  t.equal(await call(key), 200, 'the key from the page works, with the scope the route requires')

  await page.fill('#search', 'Globex')
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 1)
  const row = page.locator('#rows tr[data-id]')
  t.same(await row.locator('td.scopes .scope').allTextContents(), ['orders:read', 'orders:write'], 'the list shows its scopes')

  await row.click()
  await page.waitForSelector('#detail-dialog[open]')
  t.match(await page.textContent('#detail'), /Scopesorders:read, orders:write/)
  await page.click('#detail-rotate')
  await page.waitForSelector('#rotate-dialog[open]')
  await page.selectOption('#rotate-grace', { label: 'for 1 hour' })
  t.match(await page.textContent('#rotate-effect'), /Clients have 1 hour to switch to the new key/)
  await page.screenshot({ path: join(SHOTS, 'admin-rotate.png') })
  await page.click('#rotate-form button[type=submit]')
  await page.waitForSelector('#key-dialog[open]')
  const rotated = (await page.textContent('#new-key')) ?? ''
  t.match(rotated, app.apiKeys.keyPattern, 'the new secret is shown, like after create')
  t.not(rotated, key)
  t.match(await page.textContent('#key-dialog .warning'), /only time the key is shown/)
  t.match(await page.textContent('#key-note'), /^The old secret keeps working until .+\.$/)
  await page.click('#key-done')
  await page.waitForFunction(() => document.getElementById('new-key')?.textContent === '')
  t.equal(await call(rotated), 200, 'the rotated key works')
  t.equal(await call(key), 200, 'and the old one still does, during the hour of grace')
  await row.click()
  await page.waitForSelector('#detail-dialog[open]')
  t.match(await page.textContent('#detail'), /Old secretworks until/, 'the details say until when')
  await page.click('#detail-close')

  await row.locator('button.danger').click()
  await page.waitForSelector('#rows .badge.revoked')
  t.same([await call(rotated), await call(key)], [401, 401], 'revoked in the panel, both secrets refused at once')
  t.match(confirmations.at(-1), /^Revoke "Partner: Globex" \(\w+\)\? It is refused at once here, and by other instances of the app within about a second if they run the change feed; without it, they may accept it until their cached copy expires \(their cacheTtl option, 5 seconds by default\)\. This cannot be undone\.$/,
    'the confirmation says what holds on other instances')

  await row.click()
  await page.waitForSelector('#detail-dialog[open]')
  t.equal(await page.isVisible('#detail-revoke'), false, 'a revoked key offers no action: it cannot be un-revoked')
  t.equal(await page.isVisible('#detail-rotate'), false, 'nor rotated')
  t.match(await page.textContent('#detail'), /revoked/)
  t.notMatch(await page.textContent('#detail'), /Old secret/, 'whose old secret no longer works either')
  await page.screenshot({ path: join(SHOTS, 'admin-revoked.png') })
  await page.click('#detail-close')

  await page.fill('#search', '')
  await page.selectOption('#status', 'revoked')
  await page.waitForFunction(() => document.querySelectorAll('#rows .badge.revoked').length === 2 && document.querySelectorAll('#rows tr[data-id]').length === 2)
  t.pass('the status filter shows the two revoked keys')
})

t.test('the page offers the statuses and page sizes /meta serves', { skip: SKIP }, async (t) => {
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
  await app.register(apiKeyAdmin, { prefix: '/admin', guard: async () => {} })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  for (let i = 0; i < 12; i++) await app.apiKeys.create({ name: `key ${i}` })

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  // /meta as served, with other lists: the page must show these, not lists of its own.
  await page.route('**/admin/api/meta', async (route) => {
    const response = await route.fetch()
    await route.fulfill({ response, json: { ...(await response.json()), statuses: ['revoked', 'active'], pageSizes: [10, 25] } })
  })
  await page.goto(`${base}/admin/`)
  await page.waitForSelector('#rows tr[data-id]')
  const options = async (select: string): Promise<string[]> => await page.locator(`${select} option`).evaluateAll((all) => all.map((o) => (o as HTMLOptionElement).value))
  t.same(await options('#status'), ['', 'revoked', 'active'], 'the status filter lists the statuses /meta gives')
  t.same(await options('#page-size'), ['10', '25'], 'the page size choice lists the sizes /meta gives')
  t.equal(await page.inputValue('#page-size'), '25', 'showing the size the API answered with')
  t.equal(await page.locator('#rows tr[data-id]').count(), 12)

  await page.selectOption('#page-size', '10')
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 10)
  t.equal(await page.textContent('#range'), '1–10 of 12', 'a page of 10')
  await page.click('#next')
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 2)
  t.equal(await page.textContent('#range'), '11–12 of 12', 'and the rest on the next one')
})

t.test('with suspension, ipAllowlist and usage: disable and enable a key, set where it may be used from, watch its chart', { skip: SKIP }, async (t) => {
  mkdirSync(SHOTS, { recursive: true })
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, suspension: true, ipAllowlist: true, usage: { model: db.prisma.apiKeyUsage } })
  await app.register(apiKeyAdmin, { prefix: '/admin', title: 'Acme partner API keys', guard: async () => {} })
  app.get('/orders', { config: { apiKey: true } }, async () => ({ orders: [] }))
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { apiKey: initech, key } = await app.apiKeys.create({ name: 'Partner: Initech' })
  await app.apiKeys.create({ name: 'Billing service' })
  // Some history for the chart: earlier days' counts, as other instances would have added them.
  const DAY_MS = 86_400_000
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS
  for (const [daysAgo, count] of [[20, 140], [12, 90], [5, 310], [3, 200], [1, 260]]) {
    await db.prisma.apiKeyUsage.create({ data: { keyId: initech.id, periodStart: new Date(today - daysAgo * DAY_MS), count } })
  }
  const call = async (): Promise<string> => (await (await fetch(`${base}/orders`, { headers: { authorization: `Api-Key ${key}` } })).json()).code ?? 'ok'
  t.equal(await call(), 'ok')
  await app.apiKeys.flush()

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${base}/admin/`)
  const row = page.locator('#rows tr', { hasText: 'Initech' })
  await row.click()
  await page.waitForSelector('#detail-dialog[open]')
  await page.waitForFunction(() => /: [\d,]+$/.test(document.getElementById('usage-caption')?.textContent ?? ''))
  const bars = async (): Promise<number[]> => await page.locator('#usage-chart rect').evaluateAll((all) => all.map((bar) => Number((bar as SVGElement).dataset.count)))
  t.match(await page.textContent('#usage-caption'), /^Requests, last 30 days \(UTC\): 1,001$/, 'the history and the call before the page opened')
  const first = await bars()
  t.equal(first.length, 30, 'a bar a day')
  t.same([first[9], first[17], first[24], first[26], first[28]], [140, 90, 310, 200, 260])
  t.equal(first[29], 1, 'today: the one call made before the page opened')
  t.equal(await page.isVisible('#detail-enable'), false, 'an active key offers Disable, not Enable')
  await page.click('#detail-disable')
  await page.waitForSelector('#detail-enable:not([hidden])')
  t.match(await page.textContent('#detail'), /Statusdisabled/, 'the details show the new status')
  t.equal(await call(), 'FST_API_KEY_DISABLED', 'refused at once')
  await page.screenshot({ path: join(SHOTS, 'admin-disabled.png') })
  await page.click('#detail-close')
  await page.waitForSelector('#rows .badge.disabled')
  await page.selectOption('#status', 'disabled')
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 1)
  t.match(await page.textContent('#rows'), /Initech/, 'the status filter knows the new state')

  await row.click()
  await page.click('#detail-enable')
  await page.waitForSelector('#detail-disable:not([hidden])')
  t.equal(await call(), 'ok', 'enabled again')
  await page.click('#detail-close')
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 0)
  t.pass('no longer listed as disabled')

  // The chart moves: more calls, counted by the instance, flushed, and the key's page shows them.
  for (let i = 0; i < 5; i++) t.equal(await call(), 'ok')
  await app.apiKeys.flush()
  await page.selectOption('#status', '')
  await row.click()
  await page.waitForFunction(() => document.getElementById('usage-caption')?.textContent?.endsWith('1,007'))
  t.equal((await bars())[29], 7, 'today\'s bar grew by the five calls and the one after enable')
  await page.screenshot({ path: join(SHOTS, 'admin-usage.png') })
  await page.click('#detail-close')

  // The allowlist: this test's requests come from 127.0.0.1.
  await page.selectOption('#status', '')
  await row.click()
  await page.click('#detail-ips')
  await page.waitForSelector('#ips-dialog[open]')
  await page.fill('#ips-input', '10.0.0.0/8, not-an-address')
  await page.click('#ips-form button[type=submit]')
  await page.waitForSelector('#ips-error:not([hidden])')
  t.match(await page.textContent('#ips-error'), /"not-an-address" is not an IPv4 or IPv6 address or CIDR range/, 'the server\'s reason, in the form')
  t.equal(await call(), 'ok', 'nothing was saved')
  await page.fill('#ips-input', '10.0.0.0/8, 2001:db8::/32')
  await page.screenshot({ path: join(SHOTS, 'admin-allowed-ips.png') })
  await page.click('#ips-form button[type=submit]')
  await page.waitForSelector('#detail-dialog[open]')
  t.match(await page.textContent('#detail'), /Allowed from10\.0\.0\.0\/8, 2001:db8::\/32/)
  t.equal(await call(), 'FST_API_KEY_IP_NOT_ALLOWED', 'refused from this address')
  await page.click('#detail-ips')
  t.equal(await page.inputValue('#ips-input'), '10.0.0.0/8, 2001:db8::/32', 'the dialog starts from the list')
  await page.fill('#ips-input', '127.0.0.1')
  await page.click('#ips-form button[type=submit]')
  await page.waitForSelector('#detail-dialog[open]')
  t.equal(await call(), 'ok', 'allowed from here')
  await page.click('#detail-close')

  await page.click('#new')
  await page.fill('#create-name', 'Branch office')
  t.ok(await page.isVisible('#create-ips'), 'the create form asks for addresses')
  await page.fill('#create-ips', '192.0.2.0/24')
  await page.click('#create-form button[type=submit]')
  await page.waitForSelector('#key-dialog[open]')
  const branch = await page.textContent('#new-key') as string
  await page.click('#key-done')
  t.equal((await fetch(`${base}/orders`, { headers: { authorization: `Api-Key ${branch}` } })).status, 403, 'created with its list')
  t.equal((await app.apiKeys.list({ where: { name: 'Branch office' } })).items[0].allowedIps, '192.0.2.0/24')
})

t.test('with an audit log: the key\'s history names who did each change, the admin the guard identified', { skip: SKIP }, async (t) => {
  mkdirSync(SHOTS, { recursive: true })
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, suspension: true, audit: { model: db.prisma.apiKeyEvent } })
  // The guard's answer is who acts: here, the signed-in admin's e-mail.
  await app.register(apiKeyAdmin, { prefix: '/admin', title: 'Acme partner API keys', guard: async () => 'ops@example.com' })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { apiKey } = await app.apiKeys.create({ name: 'Partner: Initech', scopes: ['orders:read'] }, { actor: 'deploy-bot' })

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${base}/admin/`)
  const row = page.locator('#rows tr', { hasText: 'Initech' })
  const history = async (): Promise<string[]> => await page.locator('#events-list li').allTextContents()
  await row.click()
  await page.waitForFunction(() => document.getElementById('events-caption')?.textContent === 'History')
  t.match(await history(), [/ · created · by deploy-bot · name: Partner: Initech; scopes: orders:read$/], 'made from code, by the actor it named')
  await page.click('#detail-disable')
  await page.waitForSelector('#detail-enable:not([hidden])')
  await page.waitForFunction(() => document.querySelectorAll('#events-list li').length === 2)
  t.match(await history(), [/ · disabled · by ops@example\.com · disabled: false → true$/, / · created · by deploy-bot/], 'newest first')
  await page.click('#detail-enable')
  await page.waitForFunction(() => document.querySelectorAll('#events-list li').length === 3)
  await page.screenshot({ path: join(SHOTS, 'admin-history.png') })
  await page.click('#detail-close')
  page.once('dialog', (confirm) => { confirm.accept().catch(t.threw) })
  await row.locator('button.danger').click()
  await page.waitForSelector('#rows .badge.revoked')
  const events = await app.apiKeys.events(apiKey.id)
  t.same(events.map(({ type, actor }) => [type, actor]), [['revoked', 'ops@example.com'], ['enabled', 'ops@example.com'], ['disabled', 'ops@example.com'], ['created', 'deploy-bot']])
  await row.click()
  await page.waitForFunction(() => document.querySelectorAll('#events-list li').length === 4)
  t.match((await history())[0], / · revoked · by ops@example\.com · revoked: false → true$/)
  t.notMatch((await history()).join('\n'), /scrypt|hashedKey/, 'no hash in the page')
})

t.test('with credits and ipAllowlist: a key with 2 credits and an allowlist from the panel, then 200, 200, 429, and 403 once the list excludes the caller', { skip: SKIP }, async (t) => {
  mkdirSync(SHOTS, { recursive: true })
  const db = await openDatabase('sqlite')
  t.teardown(() => db.close())
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1, credits: true, ipAllowlist: true })
  await app.register(apiKeyAdmin, { prefix: '/admin', title: 'Acme partner API keys', guard: async () => {} })
  app.get('/search', { config: { apiKey: true } }, async () => ({ results: [] }))
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  await app.apiKeys.create({ name: 'Billing service' })

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${base}/admin/`)
  await page.waitForSelector('#rows tr[data-id]')

  await page.click('#new')
  t.ok(await page.isVisible('#create-credits'), 'the create form asks for credits')
  await page.fill('#create-name', 'Partner: Umbrella')
  await page.fill('#create-credits', '2')
  await page.fill('#create-refill', 'hourly')
  // This test's requests come from 127.0.0.1 (no proxy): request.ip.
  await page.fill('#create-ips', '127.0.0.1')
  await page.click('#create-form button[type=submit]')
  await page.waitForSelector('#create-error:not([hidden])')
  t.match(await page.textContent('#create-error'), /creditRefill: "hourly": expected day:AMOUNT, month:DAY:AMOUNT or every:SECONDS:AMOUNT/, 'the server\'s reason, in the form')
  await page.fill('#create-refill', 'every:3600:2')
  await page.click('#create-form button[type=submit]')
  await page.waitForSelector('#key-dialog[open]')
  const key = await page.textContent('#new-key') as string
  await page.click('#key-done')
  t.match((await app.apiKeys.list({ where: { name: 'Partner: Umbrella' } })).items[0], { credits: 2, creditRefill: 'every:3600:2', allowedIps: '127.0.0.1' }, 'created with both')

  const call = async (): Promise<[number, string]> => {
    const response = await fetch(`${base}/search`, { headers: { authorization: `Api-Key ${key}` } })
    return [response.status, (await response.json()).code ?? 'ok']
  }
  t.same(await call(), [200, 'ok'])
  t.same(await call(), [200, 'ok'])
  t.same(await call(), [429, 'FST_API_KEY_USAGE_EXCEEDED'], 'the third call cannot pay')

  // A search reloads the list: the row holds the key as it is now.
  await page.fill('#search', 'Umbrella')
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-id]').length === 1)
  const row = page.locator('#rows tr[data-id]')
  await row.click()
  await page.waitForSelector('#detail-dialog[open]')
  t.match(await page.textContent('#detail'), /Credits left0Refillevery:3600:2/, 'the details show the stored balance and the policy')
  await page.click('#detail-credits')
  await page.waitForSelector('#credits-dialog[open]')
  t.same([await page.inputValue('#credits-input'), await page.inputValue('#credits-refill')], ['0', 'every:3600:2'], 'the dialog starts from the key\'s values')
  await page.fill('#credits-refill', 'month:32:5')
  await page.click('#credits-form button[type=submit]')
  await page.waitForSelector('#credits-error:not([hidden])')
  t.match(await page.textContent('#credits-error'), /creditRefill: "month:32:5": expected/, 'a bad policy is refused with the server\'s reason')
  t.same(await call(), [429, 'FST_API_KEY_USAGE_EXCEEDED'], 'nothing was saved')
  await page.fill('#credits-input', '1')
  await page.fill('#credits-refill', 'day:1000')
  await page.screenshot({ path: join(SHOTS, 'admin-credits.png') })
  await page.click('#credits-form button[type=submit]')
  await page.waitForSelector('#detail-dialog[open]')
  t.match(await page.textContent('#detail'), /Credits left1Refillday:1000/)
  t.same(await call(), [200, 'ok'], 'the new balance pays at once')
  t.same(await call(), [429, 'FST_API_KEY_USAGE_EXCEEDED'])

  await page.click('#detail-credits')
  await page.fill('#credits-input', '')
  await page.fill('#credits-refill', '')
  await page.click('#credits-form button[type=submit]')
  await page.waitForSelector('#detail-dialog[open]')
  t.match(await page.textContent('#detail'), /Credits leftunlimitedRefillnone/, 'empty: unlimited')
  for (let i = 0; i < 3; i++) t.same(await call(), [200, 'ok'])

  await page.click('#detail-ips')
  await page.fill('#ips-input', '10.0.0.0/8')
  await page.click('#ips-form button[type=submit]')
  await page.waitForSelector('#detail-dialog[open]')
  t.same(await call(), [403, 'FST_API_KEY_IP_NOT_ALLOWED'], 'an allowlist without the caller refuses it')
})
