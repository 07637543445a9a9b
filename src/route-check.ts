import { subscribe } from 'node:diagnostics_channel'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { errors } from './errors.js'
import { askedAs } from './route-config.js'

// A registration's onRoute hook only sees the routes added after it, in its
// scope: a route added before it, or in a sibling scope, would be served open.
// Fastify publishes every new instance on this channel before anything is
// added to it (Fastify's docs: Hooks, Diagnostics Channel Hooks), so an onRoute
// hook on the root sees every route of the app, and at ready the routes that
// ask for a key but were not protected stop the app. Nothing runs per request.

// On a route's config: the decorators whose registration protects it. A
// global symbol, so two copies of the library in one process read each other's.
const PROTECTED = Symbol.for('fastify-prisma-api-key.protected')
const REGISTRY = Symbol('fastify-prisma-api-key.registry')

interface Registry {
  /** The decorators registered in the app; `apiKey` even with no registration at all. */
  names: Set<string>
  routes: RouteOptions[]
}

subscribe('fastify.initialization', (message) => {
  const { fastify } = message as { fastify: FastifyInstance }
  const registry: Registry = { names: new Set(['apiKey']), routes: [] }
  // Decorations are inherited: every scope of the app reads the root's registry.
  fastify.decorate(REGISTRY, registry)
  fastify.addHook('onRoute', (route) => {
    if (route.config !== undefined) registry.routes.push(route)
  })
  fastify.addHook('onReady', async () => {
    const unprotected = []
    for (const route of registry.routes) {
      const config = route.config as Record<string | symbol, unknown>
      const by = (config[PROTECTED] ?? []) as string[]
      for (const name of registry.names) {
        const asked = askedAs(config, name)
        if (asked !== null && !by.includes(name)) unprotected.push(`${String(route.method)} ${route.url} (${asked})`)
      }
    }
    registry.routes = []
    if (unprotected.length > 0) throw new errors.UNPROTECTED_ROUTE(unprotected.join(', '))
  })
})

/**
 * Adds a registration's decorator to its app's check; false when the app was
 * created before this module was loaded, so the check does not run for it.
 */
export function registerName (fastify: FastifyInstance, name: string): boolean {
  const registry = (fastify as unknown as Record<symbol, Registry | undefined>)[REGISTRY]
  registry?.names.add(name)
  return registry !== undefined
}

/** Marks a route the registration of `name` protects (a copy of its config: a config object may be shared by routes in other scopes). */
export function markProtected (route: RouteOptions, name: string): void {
  const config = route.config as Record<symbol, unknown>
  route.config = { ...config, [PROTECTED]: [...((config[PROTECTED] ?? []) as string[]), name] } as RouteOptions['config']
}
