// The organizations example as its README runs it: `npx tsx
// examples/organizations/server.ts` on a fresh SQLite file prints a key once,
// and the printed curl lines behave as they say.
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startScript } from './helpers/script.ts'

t.test('the example server on a fresh SQLite file', async (t) => {
  const file = join(tmpdir(), `organizations-${process.pid}.db`)
  t.teardown(() => rmSync(file, { force: true }))
  const printed = await startScript(t, 'examples/organizations/server.ts', { DATABASE_URL: `file:${file}` }, 'lacks orders:write')
  const key = /KEY='([^']+)'/.exec(printed)?.[1] as string
  const base = /listening at (http:\/\/\S+)/.exec(printed)?.[1] as string
  t.ok(key !== undefined && base !== undefined, 'a key and an address are printed')
  t.equal(printed.split(key).length - 1, 1, 'the key is printed once')
  const headers = { authorization: `Api-Key ${key}` }

  const me = await fetch(`${base}/me`, { headers })
  t.equal(me.status, 200)
  t.same((await me.json() as { organization: string }).organization, 'Acme', 'the key comes with its organization')
  t.equal((await fetch(`${base}/orders`, { headers })).status, 200, 'orders:read')
  const write = await fetch(`${base}/orders`, { method: 'POST', headers })
  t.equal(write.status, 403)
  t.match(await write.json(), { code: 'FST_API_KEY_MISSING_SCOPE', message: 'API key lacks the scope orders:write' })
  t.equal((await fetch(`${base}/me`)).status, 401, 'no key')
})
