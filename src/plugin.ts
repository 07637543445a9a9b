import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { fromCustom, fromHeader, type Presented } from './credentials.js'
import { errors } from './errors.js'
import { buildManager, type ApiKeyManager, type VerifyFailure } from './manager.js'
import { normalizePluginOptions, type ApiKeyPluginOptions, type PluginSettings } from './options.js'
import { readRouteConfig, REQUIRED, type RouteSettings } from './route-config.js'
import type { ApiKeyRecord } from './store.js'

const FAILURES: Record<VerifyFailure, new () => Error> = {
  malformed: errors.MALFORMED,
  unknown: errors.UNKNOWN,
  wrong_secret: errors.WRONG_SECRET,
  revoked: errors.REVOKED,
  expired: errors.EXPIRED,
  throttled: errors.THROTTLED
}

const MALFORMED = Object.freeze({ valid: false, reason: 'malformed' } as const)

type Authenticate = (request: FastifyRequest, reply: FastifyReply, route: RouteSettings) => Promise<void>

function createAuthenticate (settings: PluginSettings, manager: ApiKeyManager): Authenticate {
  const { getKey, header, keyword } = settings
  const present = getKey === null
    ? (request: FastifyRequest): Presented => fromHeader(request.headers[header], keyword)
    : (request: FastifyRequest): Presented => fromCustom(getKey(request))
  const missing = settings.challenge
  const invalid = `${settings.challenge}${settings.challenge.includes(' ') ? ',' : ''} error="invalid_key"`

  return async function authenticate (request, reply, route) {
    const presented = present(request)
    if (presented.kind === 'none') {
      if (route.optional) return
      reply.header('www-authenticate', missing)
      throw new errors.MISSING()
    }
    const result = presented.kind === 'bad'
      ? MALFORMED
      : await manager.verify(presented.key).catch((err: { statusCode?: number }) => {
        // 503s (store unreachable, hash queue full) are worth a retry soon.
        if (err.statusCode === 503) reply.header('retry-after', '1')
        throw err
      })
    if (!result.valid) {
      reply.header('www-authenticate', invalid)
      throw new FAILURES[result.reason]()
    }
    request.apiKey = result.apiKey
    if (route.authorize !== null && (await route.authorize(result.apiKey, request)) !== true) {
      throw new errors.FORBIDDEN()
    }
  }
}

function addHook (route: RouteOptions, name: PluginSettings['hook'], hook: (request: FastifyRequest, reply: FastifyReply) => Promise<void>): void {
  const existing = route[name]
  // First in line: the route's own hooks may rely on request.apiKey.
  route[name] = [hook, ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing])] as any
}

async function apiKeyPlugin (fastify: FastifyInstance, options: ApiKeyPluginOptions): Promise<void> {
  const settings = normalizePluginOptions(options)
  const manager = buildManager(settings.manager)
  const authenticate = createAuthenticate(settings, manager)
  manager.onBackgroundError = (err) => fastify.log.warn({ err }, 'fastify-prisma-api-key: a background write failed, it will be retried')

  fastify.decorate('apiKeys', manager)
  fastify.decorateRequest('apiKey', null)
  // For @fastify/auth and hand-written hooks: the check a required route runs.
  fastify.decorate('verifyApiKey', async function verifyApiKey (request: FastifyRequest, reply: FastifyReply) {
    await authenticate(request, reply, REQUIRED)
  })

  fastify.addHook('onRoute', (route) => {
    const config = readRouteConfig(route.config?.apiKey, `${String(route.method)} ${route.url}`)
    if (config === null) return
    addHook(route, settings.hook, async (request, reply) => await authenticate(request, reply, config))
  })

  // A last lastUsedAt flush that fails is logged: it must not keep the app from closing.
  fastify.addHook('onClose', async () => {
    await manager.close().catch((err) => fastify.log.error({ err }, 'fastify-prisma-api-key: the last lastUsedAt flush failed'))
  })
}

export default fp(apiKeyPlugin, { fastify: '5.x', name: 'fastify-prisma-api-key' })

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeyManager
    verifyApiKey: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null
  }
  interface FastifyContextConfig {
    apiKey?: import('./route-config.js').ApiKeyRouteConfig
  }
}
