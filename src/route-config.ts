import type { FastifyRequest } from 'fastify'
import { errors } from './errors.js'
import type { ApiKeyRecord } from './store.js'

export interface ApiKeyRouteOptions<R extends ApiKeyRecord = ApiKeyRecord> {
  /** No key is fine (request.apiKey stays null); a presented bad key is still a 401. */
  optional?: boolean
  /** The route's own permission check; anything but `true` is a 403. */
  authorize?: (apiKey: R, request: FastifyRequest) => boolean | Promise<boolean>
}

export type ApiKeyRouteConfig = boolean | ApiKeyRouteOptions

export interface RouteSettings {
  optional: boolean
  authorize: NonNullable<ApiKeyRouteOptions['authorize']> | null
}

export const REQUIRED: RouteSettings = Object.freeze({ optional: false, authorize: null })
const KNOWN = ['optional', 'authorize']

// Read once per route, when it is added: a bad value stops the app at startup
// instead of failing (or, worse, passing) on the first request.
export function readRouteConfig (value: unknown, route: string): RouteSettings | null {
  if (value === undefined || value === false) return null
  if (value === true) return REQUIRED
  const fail = (message: string): never => { throw new errors.INVALID_ROUTE_CONFIG(route, message) }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('expected true, false or an object { optional, authorize }')
  }
  const config = value as Record<string, unknown>
  for (const name of Object.keys(config)) {
    if (!KNOWN.includes(name)) fail(`unknown option ${name}, expected one of ${KNOWN.join(', ')}`)
  }
  if (config.optional !== undefined && typeof config.optional !== 'boolean') fail('optional must be a boolean')
  if (config.authorize !== undefined && typeof config.authorize !== 'function') fail('authorize must be a function')
  return {
    optional: config.optional === true,
    authorize: (config.authorize as RouteSettings['authorize']) ?? null
  }
}
