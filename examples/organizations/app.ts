// An API whose keys belong to organizations. Each key row is read with its
// organization in the same query (`include`), and a key of a deactivated
// organization is refused (`usable`). The scopes and the key's type are
// declared once, in types.ts.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import apiKeyPlugin, { type ApiKeyPluginOptions } from 'fastify-prisma-api-key'
import type { OrganizationsClient } from './db.ts'
import type { OrganizationKey } from './types.ts'

/** The plugin's options other than those the app sets itself, and Fastify's logger. */
export interface AppOptions extends Omit<ApiKeyPluginOptions, 'model' | 'include' | 'usable'> {
  logger?: FastifyServerOptions['logger']
}

export async function buildApp (prisma: OrganizationsClient, options: AppOptions = {}): Promise<FastifyInstance> {
  const { logger = false, ...apiKeyOptions } = options
  const app = Fastify({ logger })

  await app.register(apiKeyPlugin, {
    ...apiKeyOptions,
    model: prisma.organizationApiKey,
    include: { organization: true },
    usable: (apiKey: OrganizationKey) => apiKey.organization.active
  })

  app.get('/me', { config: { apiKey: true } }, async (request) => {
    const { name, organization } = request.apiKey!
    return { key: name, organization: organization.name }
  })

  app.get('/orders', { config: { apiKey: { scopes: ['orders:read'] } } }, async (request) => {
    return { organization: request.apiKey!.organization.name, orders: [] }
  })

  app.post('/orders', { config: { apiKey: { scopes: ['orders:write'] } } }, async (request, reply) => {
    return await reply.code(201).send({ organization: request.apiKey!.organization.name, created: true })
  })

  return app
}
