import type { FastifyInstance, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import { errors } from '../errors.js'
import type { ChangeContext } from '../events.js'
import { EXPIRY_FORMATS, readExpiry } from '../expiry.js'
import type { ApiKeyManager } from '../manager.js'
import { REFILL_NEEDS_CREDITS } from '../manager-input.js'
import { withStatus, type ApiKeyStatus } from '../status.js'
import type { ApiKeyRecord } from '../types.js'
import type { AdminSettings } from './options.js'
import { CHART_DAYS, dailyUsage } from './usage-chart.js'

const PAGE_SIZES = [10, 25, 50, 100]
const DEFAULT_PAGE_SIZE = 25

// The query holds text whatever the app's Ajv settings (coerceTypes: false
// included): sizes and pages are matched as text and read as numbers here.
// The statuses are the manager's: 'disabled' only with the suspension feature.
const listQuery = (statuses: readonly ApiKeyStatus[]): object => ({
  type: 'object',
  properties: {
    status: { enum: ['', ...statuses] },
    pageSize: { enum: PAGE_SIZES.map(String) },
    page: { type: 'string', pattern: '^[1-9][0-9]{0,8}$' },
    search: { type: 'string' }
  }
})
const ID = { type: 'object', properties: { id: { type: 'string', minLength: 1 } } } as const

// A body is a JSON object: a form or text/plain body (what another site could
// send) never reaches the manager. Its fields are listed (an app's Ajv with
// removeAdditional: 'all' keeps them) but typed only where nothing is lost:
// Fastify's default Ajv coerces, and would turn "orders:read" into
// ["orders:read"] or a null gracePeriod into 0, which the manager (the one
// check of names, scopes and grace periods, for the API, the CLI and this
// panel) refuses with its own message.
const CREATE_BODY = { type: 'object', properties: { name: {}, expiresAt: { type: ['string', 'null'] }, scopes: {}, allowedIps: {}, credits: {}, creditRefill: {} } } as const
const ALLOWED_IPS_BODY = { type: 'object', required: ['allowedIps'], properties: { allowedIps: {} } } as const
const CREDITS_BODY = { type: 'object', required: ['credits'], properties: { credits: {}, creditRefill: {} } } as const
const ROTATE_BODY = { type: 'object', properties: { gracePeriod: {} } } as const
// Revoke, disable and enable take no arguments: an empty JSON object.
const EMPTY_BODY = { type: 'object' } as const

// What a schema's refusal says: the field and the rule, as a 400 FST_API_KEY_INVALID_ARGUMENT.
const rules = (statuses: readonly ApiKeyStatus[]): Record<string, [argument: string, message: string]> => ({
  '/status': ['query', `status must be one of ${statuses.join(', ')}`],
  '/pageSize': ['query', `pageSize must be one of ${PAGE_SIZES.join(', ')}`],
  '/page': ['query', 'page must be a positive integer'],
  '/search': ['query', 'search must be text'],
  '/expiresAt': ['expiresAt', EXPIRY_FORMATS],
  '/id': ['id', 'expected a non-empty string']
})

/** A route's answer to input its schema refuses; `example` shows the body it takes. */
function refuser (statuses: readonly ApiKeyStatus[]) {
  const known = rules(statuses)
  return (example = '{}') => (problems: FastifySchemaValidationError[]): Error => {
    const [argument, message] = known[problems[0].instancePath] ?? ['body', `expected a JSON object ${example}`]
    return new errors.INVALID_ARGUMENT(argument, message)
  }
}

interface ListQuery { status?: '' | ApiKeyStatus, pageSize?: string, page?: string, search?: string }
interface Id { id: string }

// The optional fields a body gave, as given: the manager checks their values.
function given (body: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((field) => body[field] !== undefined).map((field) => [field, body[field]]))
}

/** The panel's JSON routes, registered in the scope whose hook refuses cross-site calls. */
export function adminApi (fastify: FastifyInstance, settings: AdminSettings, who: (request: FastifyRequest) => ChangeContext | undefined): void {
  const manager = settings.manager as ApiKeyManager<ApiKeyRecord>
  const { statuses } = manager
  const { suspension, ipAllowlist, credits, audit } = manager.features
  const usage = manager.features.usage !== null
  const refusal = refuser(statuses)
  const view = (apiKey: ApiKeyRecord): Record<string, unknown> => ({
    ...withStatus(apiKey, Date.now()),
    columns: settings.columns.map((column) => column.value(apiKey))
  })
  // Every route of the scope: a schema's refusal is this API's coded 400, not Fastify's FST_ERR_VALIDATION.
  fastify.setSchemaErrorFormatter(refusal())

  fastify.get('/meta', async () => ({
    title: settings.title,
    columns: settings.columns.map((column) => column.label),
    statuses,
    pageSizes: PAGE_SIZES,
    suspension,
    ipAllowlist,
    credits,
    usage,
    audit
  }))

  fastify.get<{ Querystring: ListQuery }>('/keys', { schema: { querystring: listQuery(statuses) } }, async (request) => {
    const { status, search = '' } = request.query
    const pageSize = Number(request.query.pageSize ?? DEFAULT_PAGE_SIZE)
    const page = Number(request.query.page ?? 1)
    const text = search.trim().slice(0, 100)
    const where = text === '' ? {} : { OR: [{ name: { contains: text } }, { prefix: { startsWith: text } }] }
    const { items, total } = await manager.list({ status: status === '' ? undefined : status, where, take: pageSize, skip: (page - 1) * pageSize })
    return { items: items.map(view), total, page, pageSize }
  })

  fastify.get<{ Params: Id }>('/keys/:id', { schema: { params: ID } }, async (request) => {
    const apiKey = await manager.get(request.params.id)
    if (apiKey === null) throw new errors.NOT_FOUND(request.params.id)
    return view(apiKey)
  })

  // With rotate, the only responses that ever hold a plaintext key.
  type CreateBody = { name?: unknown, expiresAt?: string | null, [field: string]: unknown }
  // A feature's fields, and why an app without it refuses them (the manager's FEATURE_OFF would be a 500).
  const optional: Array<[on: boolean, fields: string[], off: string]> = [
    [ipAllowlist, ['allowedIps'], 'this app has no IP allowlists (the ipAllowlist option)'],
    [credits, ['credits', 'creditRefill'], 'this app has no credits (the credits option)']
  ]
  const fields = ['scopes', ...optional.flatMap(([on, names]) => on ? names : [])]
  const create = { schema: { body: CREATE_BODY }, schemaErrorFormatter: refusal(`{ ${['name', 'expiresAt', ...fields].join(', ')} }`) }
  fastify.post<{ Body: CreateBody }>('/keys', create, async (request, reply) => {
    const { name, expiresAt } = request.body
    for (const [on, names, off] of optional) {
      const field = names.find((name) => request.body[name] !== undefined)
      if (!on && field !== undefined) throw new errors.INVALID_ARGUMENT(field, off)
    }
    // The manager checks the name, the scopes, the addresses and the credits: a bad one is its 400, shown in the page.
    const { apiKey, key } = await manager.create({ name: name as string, expiresAt: parseExpiry(expiresAt), ...given(request.body, fields) }, who(request))
    return await reply.code(201).send({ apiKey: view(apiKey), key })
  })

  const rotate = { schema: { params: ID, body: ROTATE_BODY }, schemaErrorFormatter: refusal('{ gracePeriod } (milliseconds)') }
  fastify.post<{ Params: Id, Body: { gracePeriod?: unknown } }>('/keys/:id/rotate', rotate, async (request) => {
    const { apiKey, key } = await manager.rotate(request.params.id, { gracePeriod: request.body.gracePeriod as number | undefined }, who(request))
    return { apiKey: view(apiKey), key }
  })

  const empty = { schema: { params: ID, body: EMPTY_BODY } }
  fastify.post<{ Params: Id }>('/keys/:id/revoke', empty, async (request) => view(await manager.revoke(request.params.id, who(request))))
  // Without the feature these routes do not exist (404), as the page shows no such buttons.
  if (usage) {
    // The chart's days: counts flushed by every instance, in UTC days.
    fastify.get<{ Params: Id }>('/keys/:id/usage', { schema: { params: ID } }, async (request) => {
      const now = Date.now()
      const periods = await manager.usage(request.params.id, { from: new Date(now - CHART_DAYS * 24 * 60 * 60 * 1000) })
      return { days: dailyUsage(periods, now) }
    })
  }
  if (audit) {
    // The key's history, newest first: the last 50 changes (the CLI's events pages further back).
    fastify.get<{ Params: Id }>('/keys/:id/events', { schema: { params: ID } }, async (request) => {
      if (await manager.get(request.params.id) === null) throw new errors.NOT_FOUND(request.params.id)
      const events = await manager.events(request.params.id, { take: 50 })
      return { events: events.map(({ id, type, actor, changes, details, at }) => ({ id, type, actor, changes, details, at })) }
    })
  }
  if (ipAllowlist) {
    const allowedIps = { schema: { params: ID, body: ALLOWED_IPS_BODY }, schemaErrorFormatter: refusal('{ allowedIps } (addresses and CIDR ranges, or null for anywhere)') }
    fastify.post<{ Params: Id, Body: { allowedIps: unknown } }>('/keys/:id/allowed-ips', allowedIps,
      async (request) => view(await manager.update(request.params.id, { allowedIps: request.body.allowedIps }, who(request))))
  }
  if (credits) {
    const setCredits = { schema: { params: ID, body: CREDITS_BODY }, schemaErrorFormatter: refusal('{ credits, creditRefill } (credits: an integer, or null for unlimited)') }
    fastify.post<{ Params: Id, Body: { credits: unknown, creditRefill?: unknown } }>('/keys/:id/credits', setCredits, async (request) => {
      const { credits: balance, creditRefill } = request.body
      // As create refuses it: update would keep the policy of a key that has no limit to refill.
      if (balance === null && creditRefill !== undefined && creditRefill !== null) throw new errors.INVALID_ARGUMENT('creditRefill', REFILL_NEEDS_CREDITS)
      return view(await manager.update(request.params.id, given(request.body, ['credits', 'creditRefill']), who(request)))
    })
  }
  if (suspension) {
    fastify.post<{ Params: Id }>('/keys/:id/disable', empty, async (request) => view(await manager.disable(request.params.id, who(request))))
    fastify.post<{ Params: Id }>('/keys/:id/enable', empty, async (request) => view(await manager.enable(request.params.id, who(request))))
  }
}

// The text as typed in the form, read as the CLI reads --expires (src/expiry.ts):
// the server decides what a date means, not the browser's time zone.
function parseExpiry (text: string | null | undefined): Date | null {
  if (text === undefined || text === null || text === '') return null
  const expiry = readExpiry(text, new Date())
  if ('problem' in expiry) throw new errors.INVALID_ARGUMENT('expiresAt', expiry.problem)
  return expiry.value
}
