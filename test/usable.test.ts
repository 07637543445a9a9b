// The `usable` option: the app's own rule, checked after the secret matched
// and after revoked/expired (the custom-model guide's organizations example
// runs it with a relation; this is the rule on its own, on the sources).
import t from 'tap'
import { auth, buildApp } from './helpers/app.ts'
import { eachDatabase } from './helpers/databases.ts'

eachDatabase(t, async (t, db) => {
  const seen: string[] = []
  const app = await buildApp(db, {
    usable: (apiKey) => {
      seen.push(apiKey.name)
      return !apiKey.name.startsWith('suspended')
    }
  })
  t.teardown(() => app.close())
  const ok = await app.apiKeys.create({ name: 'active partner' })
  const suspended = await app.apiKeys.create({ name: 'suspended partner' })
  const revoked = await app.apiKeys.create({ name: 'suspended and revoked' })
  await app.apiKeys.revoke(revoked.apiKey.id)
  const call = async (key: string) => await app.inject({ url: '/protected', headers: auth(key) })

  t.equal((await call(ok.key)).statusCode, 200)
  const refused = await call(suspended.key)
  t.equal(refused.statusCode, 401)
  t.same(refused.json(), { statusCode: 401, code: 'FST_API_KEY_UNUSABLE', error: 'Unauthorized', message: 'API key cannot be used' })
  t.equal((await call(revoked.key)).json().code, 'FST_API_KEY_REVOKED', 'revocation is reported first')
  t.same(await app.apiKeys.verify(suspended.key), { valid: false, reason: 'unusable' })
  t.notOk(seen.includes('suspended and revoked'), 'the rule never sees a revoked key')
  await app.apiKeys.update(suspended.apiKey.id, { name: 'reinstated partner' })
  t.equal((await call(suspended.key)).statusCode, 200, 'the rule runs on every check')
})
