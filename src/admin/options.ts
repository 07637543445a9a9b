import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ApiKeyManager } from '../manager.js'
import { checkKnown, fail, isPlainObject } from '../checks.js'
import type { ApiKeyRecord, RegisteredApiKey } from '../types.js'

// R defaults to the record the app declared through ApiKeyTypes, as fastify.apiKeys does.
export interface AdminColumn<R extends ApiKeyRecord = RegisteredApiKey> {
  label: string
  /** Computed on the server for each key shown; rendered as text. */
  value: (apiKey: R) => string | number | boolean | null | undefined
}

export interface ApiKeyAdminOptions<R extends ApiKeyRecord = RegisteredApiKey> {
  /**
   * The app's own check (session, basic auth, SSO), run before every admin
   * route, page and asset: throw (or send a reply) to refuse. Required. What
   * it resolves to, if a non-empty string (e.g. the admin's e-mail), is the
   * actor of the changes the request makes, in the key's events.
   */
  guard: (request: FastifyRequest, reply: FastifyReply) => unknown
  /** Defaults to `fastify.apiKeys`, set by the core plugin. */
  manager?: ApiKeyManager<R>
  /** The page's title (default "API keys"). */
  title?: string
  /** Extra columns, e.g. the organization a custom model's key belongs to. */
  columns?: Array<AdminColumn<R>>
}

export interface AdminSettings {
  guard: (request: FastifyRequest, reply: FastifyReply) => unknown
  manager: ApiKeyManager<any>
  title: string
  columns: Array<AdminColumn<ApiKeyRecord>>
}

const KNOWN = ['guard', 'manager', 'title', 'columns', 'prefix']

// Fastify hands a plugin an object whatever register was given.
export function normalizeAdminOptions (opts: object, fastify: FastifyInstance): AdminSettings {
  const o = opts as Record<string, unknown>
  checkKnown(o, KNOWN, fail)
  if (typeof o.guard !== 'function') {
    fail('guard', 'the admin panel needs the app\'s own check: guard: async (request, reply) => { /* throw to refuse */ }')
  }
  // The panel awaits the guard for who it identified: a done callback would never be called.
  if (o.guard.length > 2) fail('guard', 'expected an async function (request, reply), not a callback-style hook (request, reply, done): throw or send a reply to refuse')
  const manager = (o.manager ?? (fastify as { apiKeys?: unknown }).apiKeys) as ApiKeyManager | undefined
  if (typeof manager?.list !== 'function') fail('manager', 'register apiKeyPlugin before apiKeyAdmin, or pass manager: createApiKeyManager(...)')
  const title = o.title ?? 'API keys'
  if (typeof title !== 'string' || title.trim() === '' || title.length > 100) fail('title', 'expected a non-empty string of at most 100 characters')
  const columns = o.columns ?? []
  if (!Array.isArray(columns) || !columns.every((c) => isPlainObject(c) && typeof c.label === 'string' && typeof c.value === 'function')) {
    fail('columns', 'expected an array of { label: string, value: (apiKey) => string }')
  }
  return { guard: o.guard as AdminSettings['guard'], manager: manager as ApiKeyManager, title: title.trim(), columns: columns as AdminSettings['columns'] }
}
