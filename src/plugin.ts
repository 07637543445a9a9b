import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { fromCustom, fromHeader, type Presented } from './credentials.js'
import { errors } from './errors.js'
import { buildManager, type ApiKeyManager, type Payment, type VerifyFailure, type VerifyResult } from './manager.js'
import { normalizePluginOptions, type ApiKeyPluginOptions, type PluginSettings } from './plugin-options.js'
import { markProtected, registerName } from './route-check.js'
import { readRouteConfig, REQUIRED, type RouteSettings } from './route-config.js'
import { missingScope } from './scopes.js'
import { Store } from './store.js'
import type { ApiKeyRecord, RegisteredApiKey } from './types.js'
import { UsageStore } from './usage-store.js'
import { checkEventModel } from './audit.js'
import { MALFORMED } from './verifier.js'
import { keepTickShape } from './tick-shape.js'

const FAILURES: Record<VerifyFailure, new () => Error> = {
  malformed: errors.MALFORMED,
  unknown: errors.INVALID,
  wrong_secret: errors.INVALID,
  revoked: errors.REVOKED,
  expired: errors.EXPIRED,
  disabled: errors.DISABLED,
  unusable: errors.UNUSABLE,
  ip_not_allowed: errors.IP_NOT_ALLOWED,
  usage_exceeded: errors.USAGE_EXCEEDED,
  throttled: errors.THROTTLED
}

type Hook = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void
type Bindable = FastifyRequest['log'] & { setBindings?: (bindings: Record<string, unknown>) => void }
// What a check ends in: nothing (go on), an error for the reply, or that, later.
type Outcome = Error | undefined | Promise<Error | undefined>

interface Checks {
  /** The route hook: callback style, so a key answered from memory costs no promise. */
  hook (route: RouteSettings): Hook
  /** The same check as a promise, for fastify.verifyApiKey (and @fastify/auth). */
  check (request: FastifyRequest, reply: FastifyReply, route: RouteSettings): Promise<void>
}

function createChecks (settings: PluginSettings, manager: ApiKeyManager): Checks {
  const { getKey, header, keyword, decorator } = settings
  const present = getKey === null
    ? (request: FastifyRequest): Presented => fromHeader(request.headers[header], keyword)
    : (request: FastifyRequest): Presented => fromCustom(getKey(request))
  const { missing, invalid } = settings.challenges

  function settle (request: FastifyRequest, reply: FastifyReply, route: RouteSettings, result: VerifyResult): Outcome {
    if (!result.valid) {
      // A 403 or 429: the key proved itself, a challenge would not help.
      if (result.reason !== 'ip_not_allowed' && result.reason !== 'usage_exceeded') reply.header('www-authenticate', invalid)
      // `reason` reaches the logs (the error is logged whole) but not the
      // caller: Fastify's error reply has statusCode, code, error, message.
      return Object.assign(new FAILURES[result.reason](), { reason: result.reason })
    }
    const { apiKey } = result
    ;(request as unknown as Record<string, unknown>)[decorator] = apiKey
    // Every later log line of this request (including Fastify's "request
    // completed") says which key made it. request.log is the request's own
    // child logger; loggers without setBindings (logging disabled) are left be.
    const log = request.log as Bindable
    if (typeof log.setBindings === 'function') log.setBindings({ [decorator]: { id: apiKey.id, prefix: apiKey.prefix } })
    if (route.scopes.length > 0) {
      const scope = missingScope(apiKey, route.scopes)
      if (scope !== null) return new errors.MISSING_SCOPE(scope)
    }
    // Paid last: a call refused for its scopes or by authorize costs nothing.
    if (route.authorize === null) return pay(reply, route, apiKey)
    return Promise.resolve(route.authorize(apiKey, request)).then((allowed) => allowed === true ? pay(reply, route, apiKey) : new errors.FORBIDDEN())
  }

  // Without the credits feature, every call is free (a key with credits was refused by the check).
  const pay = !settings.manager.credits
    ? (): Outcome => undefined
    : (reply: FastifyReply, route: RouteSettings, apiKey: ApiKeyRecord): Outcome => {
        const payment = manager.spendCached(apiKey, route.cost)
        if (payment !== null) return paid(reply, payment)
        return manager.spend(apiKey, route.cost).then((payment) => paid(reply, payment), (err) => unavailable(reply, err))
      }

  function paid (reply: FastifyReply, payment: Payment): Error | undefined {
    if (payment.paid) return undefined
    if (payment.retryAfter !== null) reply.header('retry-after', String(payment.retryAfter))
    return new errors.USAGE_EXCEEDED()
  }

  // 503s (store unreachable, hash queue full) are worth a retry soon.
  function unavailable (reply: FastifyReply, err: { statusCode?: number }): never {
    if (err.statusCode === 503) reply.header('retry-after', '1')
    throw err
  }

  function run (request: FastifyRequest, reply: FastifyReply, route: RouteSettings): Outcome {
    const presented = present(request)
    if (presented.kind === 'none') {
      if (route.optional) return undefined
      reply.header('www-authenticate', missing)
      return new errors.MISSING()
    }
    if (presented.kind === 'bad') return settle(request, reply, route, MALFORMED)
    // request.ip: what Fastify's trustProxy makes of the connection and its
    // forwarded headers; read only for a key with an allowlist.
    const ip = (): string => request.ip
    const known = manager.verifyCached(presented.key, ip)
    if (known !== null) return settle(request, reply, route, known)
    return manager.verify(presented.key, ip).then(
      async (result) => await settle(request, reply, route, result),
      (err) => unavailable(reply, err))
  }

  return {
    hook: (route) => function apiKeyHook (request, reply, done) {
      const outcome = run(request, reply, route)
      if (outcome instanceof Promise) outcome.then(done, done)
      else done(outcome)
    },
    check: async (request, reply, route) => {
      const err = await run(request, reply, route)
      if (err !== undefined) throw err
    }
  }
}

function addHook (route: RouteOptions, name: PluginSettings['hook'], hook: Hook): void {
  const existing = route[name]
  // First in line: the route's own hooks may rely on request.apiKey.
  route[name] = [hook, ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing])] as any
}

// For @fastify/swagger: the route's security requirement, with its scopes; an
// optional route also accepts no credentials at all (`{}`). A route that
// states its own security keeps it.
function document (route: RouteOptions, scheme: string, config: RouteSettings): void {
  const schema = (route.schema ?? {}) as Record<string, unknown>
  if (schema.security !== undefined) return
  const requirement = { [scheme]: [...config.scopes] }
  route.schema = { ...schema, security: config.optional ? [{}, requirement] : [requirement] } as RouteOptions['schema']
}

// At most this long (and half the plugin timeout) at startup for the key table
// to answer: a database that does not answer delays startup, it does not fail it.
const STARTUP_WAIT = 5_000

// One read at startup. What Prisma refuses (a table or column the migrations
// did not create, an include naming no relation) stops the app with its
// reason, instead of every request getting 503. A database that is down is an
// outage, not a mistake: the app starts, its requests get 503 until it is back.
async function checkStore (check: () => Promise<void>, log: FastifyBaseLogger, wait: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, wait, 'late') })
  try {
    // A late outcome is dropped: by then requests report the store's state.
    if (await Promise.race([check(), late]) === 'late') {
      log.warn(`fastify-prisma-api-key: the key table did not answer within ${wait} ms at startup, carrying on`)
    }
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'FST_API_KEY_UNAVAILABLE') throw err
    log.warn({ err }, 'fastify-prisma-api-key: could not read the key table at startup (is the database down?): requests get 503 until it answers')
  } finally {
    clearTimeout(timer)
  }
}

// The change feed: a log or trigger the migrations did not create stops the
// app; a database that does not answer yet is retried in the background
// (until then changes made elsewhere arrive within cacheTtl).
async function checkFeed (ready: Promise<void>, log: FastifyBaseLogger, wait: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, wait, 'late') })
  try {
    if (await Promise.race([ready, late]) === 'late') {
      log.warn(`fastify-prisma-api-key: the change feed did not start within ${wait} ms, retrying in the background`)
    }
  } finally {
    clearTimeout(timer)
  }
}

async function apiKeyPlugin (fastify: FastifyInstance, options: ApiKeyPluginOptions): Promise<void> {
  const settings = normalizePluginOptions(options)
  keepTickShape()
  const { decorator, securityScheme } = settings
  // Background failures go to the app's log, unless the app handles them itself.
  const onBackgroundError = options.onBackgroundError ??
    ((err: unknown) => fastify.log.warn({ err }, 'fastify-prisma-api-key: a background write failed, it will be retried'))
  const { manager, ready } = buildManager({ ...settings.manager, onBackgroundError })
  const checks = createChecks(settings, manager)

  // apiKey -> fastify.apiKeys, request.apiKey, fastify.verifyApiKey, config.apiKey.
  fastify.decorate(`${decorator}s`, manager)
  fastify.decorateRequest(decorator, null)
  // For @fastify/auth and hand-written hooks: the check a required route runs.
  fastify.decorate(`verify${decorator[0].toUpperCase()}${decorator.slice(1)}`, async function verifyApiKey (request: FastifyRequest, reply: FastifyReply) {
    await checks.check(request, reply, REQUIRED)
  })

  if (!registerName(fastify, decorator)) {
    fastify.log.warn('fastify-prisma-api-key was loaded after this Fastify instance was created: only routes added after the registration, ' +
      'in its scope, are checked; import fastify-prisma-api-key before calling Fastify() (docs/security.md)')
  }
  fastify.addHook('onRoute', (route) => {
    const config = readRouteConfig(route.config as Record<string, unknown> | undefined, decorator, `${String(route.method)} ${route.url}`, settings.manager.credits)
    if (config === null) return
    addHook(route, settings.hook, checks.hook(config))
    markProtected(route, decorator)
    if (securityScheme !== null) document(route, securityScheme, config)
  })

  const { model, include, pepper, suspension, ipAllowlist, credits, importedKeys, usage, audit } = settings.manager
  // Fastify fills in pluginTimeout's default (10 s); 0 turns the timeout off.
  const half = (fastify.initialConfig.pluginTimeout as number) / 2
  const wait = half > 0 ? Math.min(STARTUP_WAIT, half) : STARTUP_WAIT
  fastify.addHook('onReady', async () => {
    // The usage table after the key table: its rows name a key.
    const check = async (): Promise<void> => {
      await new Store(model, { include, hmac: pepper !== null, suspension, ipAllowlist, credits, importedKeys }).check()
      if (usage !== null) await new UsageStore(usage.model).check()
      if (audit !== null) await checkEventModel(audit)
    }
    await checkStore(check, fastify.log, wait)
    await checkFeed(ready, fastify.log, wait)
  })

  // A last flush (lastUsedAt, usage counts) that fails is logged: it must not keep the app from closing.
  fastify.addHook('onClose', async () => {
    await manager.close().catch((err) => fastify.log.error({ err }, 'fastify-prisma-api-key: the last lastUsedAt flush failed'))
  })
}

/**
 * The Fastify plugin: decorates `request.apiKey`, `fastify.apiKeys` (the
 * manager) and `fastify.verifyApiKey`, and checks the key on every route
 * that asks with `config: { apiKey: true }` (or an options object).
 * @example
 * await fastify.register(apiKeyPlugin, { model: prisma.apiKey })
 * fastify.get('/orders', { config: { apiKey: { scopes: ['orders:read'] } } }, async (request) => request.apiKey)
 */
export default fp(apiKeyPlugin, { fastify: '5.x', name: 'fastify-prisma-api-key' })

// The default registration's names; other decorators are declared by the app
// the same way (docs/custom-models.md).
declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeyManager<RegisteredApiKey>
    verifyApiKey: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    apiKey: RegisteredApiKey | null
  }
  interface FastifyContextConfig {
    apiKey?: import('./route-config.js').ApiKeyRouteConfig<RegisteredApiKey>
  }
}
