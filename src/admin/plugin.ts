import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errors } from '../errors.js'
import { EXPIRY_FORMATS, readExpiry } from '../expiry.js'
import type { ApiKeyManager } from '../manager.js'
import { isPlainObject } from '../checks.js'
import { STATUSES, type ApiKeyStatus } from '../status.js'
import type { ApiKeyRecord } from '../store.js'
import { ASSETS, page } from './page.js'
import { normalizeAdminOptions, type AdminSettings, type ApiKeyAdminOptions } from './options.js'

export type { ApiKeyAdminOptions, AdminColumn } from './options.js'

// The header the panel's script sends with every API call. A cross-site form
// or image cannot set a custom header, and a cross-site fetch that does needs
// a CORS preflight this plugin never answers: CSRF cannot reach the API.
export const CSRF_HEADER = 'x-api-key-admin'

const PAGE_SIZES = [10, 25, 50, 100]

// The panel's own pages: no inline script or style, nothing from elsewhere,
// never framed. A key name with markup in it stays text.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const badRequest = (message: string): Error => new errors.INVALID_ARGUMENT('query', message)

/**
 * A small admin panel and its JSON API, under the prefix it is registered
 * with. Register it after the core plugin (it uses `fastify.apiKeys`), with the
 * app's own `guard`, which runs before every route, page and asset.
 */
export default async function apiKeyAdmin (fastify: FastifyInstance, options: ApiKeyAdminOptions): Promise<void> {
  const settings = normalizeAdminOptions(options, fastify)

  fastify.addHook('onRequest', settings.guard)
  fastify.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CSP)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cache-control', 'no-store')
  })

  const html = page(settings.title)
  fastify.get('/', async (request, reply) => {
    // The page loads its assets by relative URL: it must be served at the prefix with its slash.
    // The redirect names only the last segment, after "./": a prefix parameter
    // holding "\evil.example" (a path starting /\ or //) cannot send it off the site.
    const path = request.url.split('?')[0]
    if (!path.endsWith('/')) return await reply.redirect(`./${path.slice(path.lastIndexOf('/') + 1)}/`)
    return await reply.type('text/html; charset=utf-8').send(html)
  })
  for (const [name, asset] of Object.entries(ASSETS)) {
    fastify.get(`/${name}`, async (_request, reply) => await reply.type(asset.type).send(asset.body))
  }

  // Every JSON route is declared in this scope, whose hook refuses what the
  // page did not send: the check belongs to the routes, so a new one cannot
  // miss it, and no spelling of the URL (/%61pi/...) goes around it.
  await fastify.register(async (api) => {
    api.addHook('onRequest', refuseCrossSite)
    jsonApi(api, settings)
  }, { prefix: '/api' })
}

async function refuseCrossSite (request: FastifyRequest): Promise<void> {
  // Browsers say where a request comes from; refuse what another site sent.
  if (request.headers['sec-fetch-site'] === 'cross-site') throw new errors.ADMIN_CSRF()
  if (request.headers[CSRF_HEADER] !== '1') throw new errors.ADMIN_CSRF()
}

// Write calls take a JSON object: a form or text/plain body (what another
// site could send) never reaches the manager.
function jsonBody (request: FastifyRequest, example: string): Record<string, unknown> {
  if (!isPlainObject(request.body)) throw new errors.INVALID_ARGUMENT('body', `expected a JSON object ${example}`)
  return request.body as Record<string, unknown>
}

function jsonApi (fastify: FastifyInstance, settings: AdminSettings): void {
  const manager = settings.manager as ApiKeyManager<ApiKeyRecord>
  const view = (apiKey: ApiKeyRecord): Record<string, unknown> => ({
    ...apiKey,
    status: manager.status(apiKey),
    columns: settings.columns.map((column) => column.value(apiKey))
  })

  fastify.get('/meta', async () => ({
    title: settings.title,
    columns: settings.columns.map((column) => column.label),
    statuses: STATUSES,
    pageSizes: PAGE_SIZES
  }))

  fastify.get('/keys', async (request) => {
    const query = request.query as Record<string, string | undefined>
    const status = query.status === undefined || query.status === '' ? undefined : query.status as ApiKeyStatus
    if (status !== undefined && !STATUSES.includes(status)) throw badRequest(`status must be one of ${STATUSES.join(', ')}`)
    const pageSize = Number(query.pageSize ?? 25)
    const pageNumber = Number(query.page ?? 1)
    if (!PAGE_SIZES.includes(pageSize)) throw badRequest(`pageSize must be one of ${PAGE_SIZES.join(', ')}`)
    if (!Number.isInteger(pageNumber) || pageNumber < 1) throw badRequest('page must be a positive integer')
    const search = (query.search ?? '').trim().slice(0, 100)
    const where = search === '' ? {} : { OR: [{ name: { contains: search } }, { prefix: { startsWith: search } }] }
    const { items, total } = await manager.list({ status, where, take: pageSize, skip: (pageNumber - 1) * pageSize })
    return { items: items.map(view), total, page: pageNumber, pageSize }
  })

  fastify.get('/keys/:id', async (request) => {
    const { id } = request.params as { id: string }
    const apiKey = await manager.get(id)
    if (apiKey === null) throw new errors.NOT_FOUND(id)
    return view(apiKey)
  })

  // With rotate, the only responses that ever hold a plaintext key.
  fastify.post('/keys', async (request, reply: FastifyReply) => {
    const body = jsonBody(request, '{ name, expiresAt, scopes }')
    const expiresAt = parseExpiry(body.expiresAt)
    // The manager checks the scopes: a bad one is its 400, shown in the page.
    const scopes = body.scopes === undefined ? {} : { scopes: body.scopes as string[] }
    const { apiKey, key } = await manager.create({ name: body.name as string, expiresAt, ...scopes })
    return await reply.code(201).send({ apiKey: view(apiKey), key })
  })

  fastify.post('/keys/:id/rotate', async (request) => {
    const { id } = request.params as { id: string }
    const { gracePeriod } = jsonBody(request, '{ gracePeriod } (milliseconds)')
    const { apiKey, key } = await manager.rotate(id, { gracePeriod: gracePeriod as number | undefined })
    return { apiKey: view(apiKey), key }
  })

  fastify.post('/keys/:id/revoke', async (request) => {
    const { id } = request.params as { id: string }
    jsonBody(request, '{}')
    return view(await manager.revoke(id))
  })
}

// The text as typed in the form, read as the CLI reads --expires (src/expiry.ts):
// the server decides what a date means, not the browser's time zone.
function parseExpiry (value: unknown): Date | null {
  if (value === undefined || value === null || value === '') return null
  const expiry = typeof value === 'string' ? readExpiry(value, new Date()) : { problem: EXPIRY_FORMATS }
  if ('problem' in expiry) throw new errors.INVALID_ARGUMENT('expiresAt', expiry.problem)
  return expiry.value
}
