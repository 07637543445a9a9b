import t from 'tap'
import { buildApp, auth } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'

eachDatabase(t, async (t, db) => {
  const app = await buildApp(db)
  t.teardown(() => app.close())
  const { key, apiKey } = await app.apiKeys.create({ name: 'smoke' })
  const ok = await app.inject({ url: '/protected', headers: auth(key) })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().apiKey.id, apiKey.id)
  const bad = await app.inject({ url: '/protected' })
  t.equal(bad.statusCode, 401)
  t.equal(bad.headers['www-authenticate'], 'Api-Key')
  console.log(bad.json())
})
