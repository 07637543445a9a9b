import type { Test } from 'tap'
// The README's first command, as a new user runs it: the demo starts on a
// fresh database, prints a key once, and the printed curl line works.
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { skipReason } from './helpers/databases.ts'
import { startScript } from './helpers/script.ts'

async function runDemo (t: Test, env: Record<string, string>): Promise<void> {
  const printed = await startScript(t, 'examples/demo/server.ts', env, '# 401, no key')
  const curl = /curl -H 'Authorization: (Api-Key [^']+)' (http:\/\/\S+\/whoami)/.exec(printed)
  t.ok(curl, 'a curl line is printed')
  const [, header, url] = curl as RegExpExecArray
  const key = header.slice('Api-Key '.length)
  t.equal(printed.split(key).length - 1, 2, 'the key is printed once, inside the curl line and above it only')

  const ok = await fetch(url, { headers: { authorization: header } })
  t.equal(ok.status, 200)
  const body = await ok.json() as { apiKey: { prefix: string, hashedKey?: string } }
  t.equal(body.apiKey.prefix, key.slice(0, 8))
  t.notOk('hashedKey' in body.apiKey)
  const refused = await fetch(url)
  t.equal(refused.status, 401)
  t.equal(refused.headers.get('www-authenticate'), 'Api-Key')
  t.equal((await fetch(url.replace('/whoami', '/admin-only'), { headers: { authorization: header } })).status, 403)
  const report = await fetch(url.replace('/whoami', '/report'), { headers: { authorization: header } })
  t.same(await report.json(), { report: 'ok', creditsLeft: null }, 'the demo key has no credits: unlimited')

  const admin = /Admin panel: (\S+)\s+\(user admin, password (\S+)\)/.exec(printed)
  t.ok(admin, 'the admin panel and its password are printed')
  const [, panel, password] = admin as RegExpExecArray
  t.equal((await fetch(panel)).status, 401, 'the panel is behind the guard')
  const login = { authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64') }
  t.equal((await fetch(panel, { headers: login })).status, 200)
  const listed = await (await fetch(`${panel}api/keys`, { headers: { ...login, 'x-api-key-admin': '1' } })).json() as { items: Array<{ prefix: string }> }
  t.ok(listed.items.some((k) => k.prefix === key.slice(0, 8)), 'the demo key is listed in the panel')
  const demoKey = (listed.items as Array<{ id: string, prefix: string }>).find((k) => k.prefix === key.slice(0, 8)) as { id: string }
  const history = await (await fetch(`${panel}api/keys/${demoKey.id}/events`, { headers: { ...login, 'x-api-key-admin': '1' } })).json() as { events: Array<{ type: string, actor: string }> }
  t.match(history.events, [{ type: 'created', actor: 'demo startup' }], 'and its history, in the audit log')
}

t.test('sqlite: npm start on a fresh ./demo.db', async (t) => {
  const file = join(tmpdir(), `demo-${process.pid}.db`)
  t.teardown(() => rmSync(file, { force: true }))
  await runDemo(t, { DATABASE_URL: `file:${file}` })
  await runDemo(t, { DATABASE_URL: `file:${file}` })
})

t.test('postgresql: the same demo with DATABASE_URL', { skip: skipReason('postgresql') ?? false }, async (t) => {
  const { default: pg } = await import('pg')
  const schema = `demo_${process.pid}`
  const admin = new pg.Client({ connectionString: process.env.TEST_POSTGRES_URL })
  await admin.connect()
  await admin.query(`CREATE SCHEMA "${schema}"`)
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`)
    await admin.end()
  })
  const url = new URL(process.env.TEST_POSTGRES_URL as string)
  url.searchParams.set('schema', schema)
  await runDemo(t, { DATABASE_URL: url.href })
})
