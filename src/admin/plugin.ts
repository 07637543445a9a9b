import type { FastifyInstance, FastifyRequest } from 'fastify'
import { adminApi } from './api.js'
import { refuseCrossSite } from './csrf.js'
import { normalizeAdminOptions, type ApiKeyAdminOptions } from './options.js'
import { readPanel } from './page.js'

export type { ApiKeyAdminOptions, AdminColumn } from './options.js'

// The panel's own pages: no inline script or style, nothing from elsewhere,
// never framed. A key name with markup in it stays text.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * A small admin panel and its JSON API, under the prefix it is registered
 * with. Register it after the core plugin (it uses `fastify.apiKeys`), with the
 * app's own `guard`, which runs before every route, page and asset.
 * @example
 * await fastify.register(apiKeyAdmin, { prefix: '/admin/keys', guard: async (request, reply) => { await checkAdmin(request, reply) } })
 */
export default async function apiKeyAdmin (fastify: FastifyInstance, options: ApiKeyAdminOptions): Promise<void> {
  const settings = normalizeAdminOptions(options, fastify)
  const { html, assets } = await readPanel(settings.title)

  // Who the guard identified, for the events of the changes this request makes.
  const actors = new WeakMap<FastifyRequest, string>()
  fastify.addHook('onRequest', async function (request, reply) {
    const identified = await settings.guard.call(this, request, reply)
    if (typeof identified === 'string' && identified.trim() !== '') actors.set(request, identified)
    // A guard that sent its refusal without returning the reply: nothing more runs.
    if (reply.sent) return reply
  })
  // no-store for the assets too: they are behind the guard, and a few kilobytes.
  fastify.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CSP)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cache-control', 'no-store')
  })

  fastify.get('/', async (request, reply) => {
    // The page loads its assets by relative URL: it must be served at the prefix with its slash.
    // The redirect names only the last segment, after "./": a prefix parameter
    // holding "\evil.example" (a path starting /\ or //) cannot send it off the site.
    const path = request.url.split('?')[0]
    if (!path.endsWith('/')) return await reply.redirect(`./${path.slice(path.lastIndexOf('/') + 1)}/`)
    return await reply.type('text/html; charset=utf-8').send(html)
  })
  for (const { name, type, body } of assets) {
    fastify.get(`/${name}`, async (_request, reply) => await reply.type(type).send(body))
  }

  // Every JSON route is declared in this scope, whose hook refuses what the
  // page did not send: the check belongs to the routes, so a new one cannot
  // miss it, and no spelling of the URL (/%61pi/...) goes around it.
  await fastify.register(async (api) => {
    api.addHook('onRequest', refuseCrossSite)
    adminApi(api, settings, (request) => {
      const actor = actors.get(request)
      return actor === undefined ? undefined : { actor }
    })
  }, { prefix: '/api' })
}
