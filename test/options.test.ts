import Fastify from 'fastify'
import t from 'tap'
import apiKeyPlugin, { apiKeyPlugin as named, createApiKeyManager, errors } from '../src/index.ts'
import { FAST_SCRYPT } from './helpers/app.ts'
import { openDatabase } from './helpers/databases.ts'

const db = await openDatabase('sqlite')
t.teardown(() => db.close())
const model = db.prisma.apiKey

async function register (options: unknown): Promise<void> {
  const app = Fastify()
  try {
    await app.register(apiKeyPlugin, options as any)
    await app.ready()
  } finally {
    await app.close()
  }
}

t.test('the plugin is the default and a named export', async (t) => {
  t.equal(named, apiKeyPlugin)
})

t.test('wrong options fail at register with a coded error that says what to do', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['no model', {}, /option model: expected a Prisma model delegate such as prisma.apiKey \(missing create\(\)\)/],
    ['a whole client', { model: db.prisma }, /missing create\(\)/],
    ['an unknown option', { model, heder: 'x' }, /option heder: unknown option, expected one of model, brand/],
    ['a bad brand', { model, brand: 'acme.' }, /option brand: use 1 to 32 characters/],
    ['a brand of the wrong type', { model, brand: 5 }, /option brand/],
    ['scrypt not an object', { model, scrypt: 14 }, /option scrypt: expected an object/],
    ['an unknown scrypt parameter', { model, scrypt: { n: 16384 } }, /option scrypt.n: unknown option/],
    ['scrypt too weak', { model, scrypt: { ln: 4 } }, /scrypt.ln must be an integer from 10 to 20/],
    ['scrypt too much work in all', { model, scrypt: { ln: 20, r: 2, p: 16 } }, /option scrypt: scrypt parameters cost more than N \* r \* p = 2\^22/],
    ['zero threads', { model, hashThreads: 0 }, /option hashThreads: expected an integer from 1 to 64/],
    ['a negative hash queue', { model, hashQueue: -1 }, /option hashQueue: expected an integer from 0 to 1000000/],
    ['a negative TTL', { model, cacheTtl: -1 }, /option cacheTtl: expected an integer from 0 to 86400000/],
    ['a TTL over a day', { model, cacheTtl: 86_400_001 }, /option cacheTtl: expected an integer from 0/],
    ['an empty cache', { model, cacheSize: 0 }, /option cacheSize: expected an integer from 1/],
    ['a fractional failure limit', { model, maxFailures: 1.5 }, /option maxFailures: expected an integer/],
    ['a window as text', { model, failureWindow: '1m' }, /option failureWindow: expected an integer/],
    ['a throttle delay over a minute', { model, throttleDelay: 60_001 }, /option throttleDelay: expected an integer from 0 to 60000/],
    ['a negative interval', { model, lastUsedInterval: -5 }, /option lastUsedInterval: expected an integer from 0/],
    ['a bad header', { model, header: 'x api key' }, /option header: expected a header name/],
    ['a bad keyword', { model, keyword: 'Api Key' }, /option keyword: expected an authentication scheme/],
    ['getKey not a function', { model, getKey: 'x-api-key' }, /option getKey: expected a function/],
    ['getKey with header', { model, getKey: () => '', header: 'x-api-key' }, /replaces header and keyword/],
    ['a bad hook', { model, hook: 'preValidation' }, /option hook: expected 'preHandler' or 'onRequest'/],
    ['a realm with a quote', { model, realm: 'a"b' }, /option realm: expected a string without quotes/],
    ['include not an object', { model, include: 'organization' }, /option include: expected a Prisma include object/],
    ['onBackgroundError not a function', { model, onBackgroundError: 'log' }, /option onBackgroundError: expected a function \(err\) => void/],
    ['an empty include', { model, include: {} }, /option include: expected a Prisma include object/],
    ['usable not a function', { model, usable: true }, /option usable: expected a function \(apiKey\) => boolean/],
    ['a pepper under 32 bytes', { model, pepper: 'x'.repeat(31) }, /option pepper: expected a secret of at least 32 bytes .*`openssl rand -base64 32`/],
    ['a pepper of the wrong type', { model, pepper: 32 }, /option pepper: expected a secret of at least 32 bytes/],
    ['no pepper in the array', { model, pepper: [] }, /option pepper: expected a secret/],
    ['a decorator with a dash', { model, decorator: 'partner-key' }, /option decorator: expected a JavaScript identifier/],
    ['an empty securityScheme', { model, securityScheme: '' }, /option securityScheme: expected the name of a security scheme/]
  ]
  for (const [name, options, message] of cases) {
    await t.rejects(register(options), { code: 'FST_API_KEY_INVALID_OPTION', message }, name)
    t.throws(() => createApiKeyManager(options as any), /header|keyword|getKey|hook|realm|decorator|securityScheme/.test(name)
      ? { code: 'FST_API_KEY_INVALID_OPTION' }
      : { code: 'FST_API_KEY_INVALID_OPTION', message }, `manager: ${name}`)
  }
})

t.test('the manager wants an options object', async (t) => {
  t.throws(() => createApiKeyManager(undefined as any), { code: 'FST_API_KEY_INVALID_OPTION', message: /pass an object such as \{ model: prisma.apiKey \}/ })
  t.throws(() => createApiKeyManager([] as any), { code: 'FST_API_KEY_INVALID_OPTION' })
  t.throws(() => createApiKeyManager(null as any), { code: 'FST_API_KEY_INVALID_OPTION' })
})

t.test('a bad route config fails at startup', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['yes', /^Invalid config.apiKey on route GET \/x: expected true, false or an object/],
    [null, /expected true, false or an object/],
    [[], /expected true, false or an object/],
    [{ roles: ['a'] }, /unknown option roles, expected one of optional, scopes, authorize/],
    [{ scopes: 'orders:read' }, /scopes must be an array of scope names/],
    [{ scopes: ['orders:*'] }, /"orders:\*" is not a scope name/],
    [{ scopes: ['orders read'] }, /"orders read" is not a scope name/],
    [{ scopes: [''] }, /"" is not a scope name/],
    [{ optional: 'yes' }, /optional must be a boolean/],
    [{ authorize: true }, /authorize must be a function/]
  ]
  for (const [config, message] of cases) {
    const app = Fastify()
    await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT })
    t.throws(() => app.get('/x', { config: { apiKey: config as any } }, async () => 'x'), { code: 'FST_API_KEY_INVALID_ROUTE_CONFIG', message }, String(config))
    await app.close()
  }
})

t.test('a near miss of the config key fails at route registration, naming the right key', async (t) => {
  const cases: Array<[string | undefined, string[]]> = [
    [undefined, ['apikey', 'api_key', 'apiKeys', 'ApiKey', 'API-KEY']],
    ['partnerKey', ['partnerkey', 'partner_key', 'partnerKeys', 'PartnerKey']]
  ]
  for (const [decorator, keys] of cases) {
    const right = decorator ?? 'apiKey'
    for (const key of keys) {
      const app = Fastify()
      await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT, decorator })
      t.throws(() => app.get('/x', { config: { [key]: true } }, async () => 'x'), {
        code: 'FST_API_KEY_INVALID_ROUTE_CONFIG',
        message: `Invalid config.${key} on route GET /x: did you mean config.${right}? (route config keys are case-sensitive)`
      }, key)
      await app.close()
    }
  }
})

t.test('a bad route config under a custom decorator names that key', async (t) => {
  const app = Fastify()
  await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT, decorator: 'partnerKey' })
  t.teardown(() => app.close())
  t.throws(() => app.get('/x', { config: { partnerKey: 'yes' } }, async () => 'x'), {
    code: 'FST_API_KEY_INVALID_ROUTE_CONFIG',
    message: /^Invalid config.partnerKey on route GET \/x: expected true, false or an object/
  })
})

t.test('routes opt in; false and absent leave them open', async (t) => {
  const app = Fastify()
  await app.register(apiKeyPlugin, { model, scrypt: FAST_SCRYPT })
  app.get('/off', { config: { apiKey: false } }, async () => 'off')
  app.get('/none', async () => 'none')
  app.get('/on', { config: { apiKey: {} } }, async () => 'on')
  t.teardown(() => app.close())
  t.equal((await app.inject('/off')).statusCode, 200)
  t.equal((await app.inject('/none')).statusCode, 200)
  t.equal((await app.inject('/on')).statusCode, 401)
})

t.test('every error code is exported and documented', async (t) => {
  const { readFileSync } = await import('node:fs')
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  for (const make of Object.values(errors)) {
    const code = new (make as any)('a', 'b').code
    t.ok(readme.includes(`\`${code}\``), `${code} is in the README`)
  }
})
