import type { FastifyRequest } from 'fastify'
import { errors } from './errors.js'
import { MAX_COST } from './manager-input.js'
import { isScopeName, SCOPE_NAME_RULE } from './scopes.js'
import type { ApiKeyRecord, ApiKeyScope } from './types.js'

export interface ApiKeyRouteOptions<R extends ApiKeyRecord = ApiKeyRecord> {
  /** No key is fine (request.apiKey stays null); a presented bad key is still a 401. */
  optional?: boolean
  /** Scopes the key must have, all of them; a key that lacks one gets 403 FST_API_KEY_MISSING_SCOPE. */
  scopes?: readonly ApiKeyScope[]
  /** The route's own permission check; anything but `true` is a 403. */
  authorize?: (apiKey: R, request: FastifyRequest) => boolean | Promise<boolean>
  /** The credits a call spends (the credits feature): an integer, 0 for free; default 1. */
  cost?: number
}

export type ApiKeyRouteConfig<R extends ApiKeyRecord = ApiKeyRecord> = boolean | ApiKeyRouteOptions<R>

export interface RouteSettings {
  optional: boolean
  scopes: readonly string[]
  authorize: NonNullable<ApiKeyRouteOptions<any>['authorize']> | null
  cost: number
}

export const REQUIRED: RouteSettings = Object.freeze({ optional: false, scopes: Object.freeze([]), authorize: null, cost: 1 })
const KNOWN = ['optional', 'scopes', 'authorize', 'cost']

// The same key with another case, `_` or `-`, or a final s (`apikey`,
// `api_key`, `apiKeys`): most likely meant as `key`, and the route would be
// served open.
function nearMiss (routeConfig: Record<string, unknown>, key: string): string | undefined {
  const fold = (name: string): string => name.toLowerCase().replace(/[-_]/g, '')
  const target = fold(key)
  return Object.keys(routeConfig).find((name) => name !== key && (fold(name) === target || fold(name) === `${target}s`))
}

/** How a route's config asks for a key under `key` (`config.apiKey`), or null when it does not. */
export function askedAs (routeConfig: Record<string, unknown>, key: string): string | null {
  if (routeConfig[key] !== undefined && routeConfig[key] !== false) return `config.${key}`
  const near = nearMiss(routeConfig, key)
  return near === undefined ? null : `config.${near}: did you mean config.${key}?`
}

// Read once per route, when it is added: a bad value stops the app at startup
// instead of failing (or, worse, passing) on the first request. `credits`:
// the plugin's credits feature is on (a cost without it would charge nothing).
export function readRouteConfig (routeConfig: Record<string, unknown> | undefined, key: string, route: string, credits = false): RouteSettings | null {
  if (routeConfig === undefined) return null
  const near = nearMiss(routeConfig, key)
  if (near !== undefined) throw new errors.INVALID_ROUTE_CONFIG(near, route, `did you mean config.${key}? (route config keys are case-sensitive)`)
  const value = routeConfig[key]
  if (value === undefined || value === false) return null
  if (value === true) return REQUIRED
  const fail = (message: string): never => { throw new errors.INVALID_ROUTE_CONFIG(key, route, message) }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('expected true, false or an object { optional, scopes, authorize, cost }')
  }
  const config = value as Record<string, unknown>
  for (const name of Object.keys(config)) {
    if (!KNOWN.includes(name)) fail(`unknown option ${name}, expected one of ${KNOWN.join(', ')}`)
  }
  if (config.optional !== undefined && typeof config.optional !== 'boolean') fail('optional must be a boolean')
  const { scopes = [] } = config
  if (!Array.isArray(scopes)) fail('scopes must be an array of scope names such as ["orders:read"]')
  const bad = (scopes as unknown[]).find((scope) => !isScopeName(scope))
  // A route names exact scopes; wildcards are for keys.
  if (bad !== undefined) fail(`${JSON.stringify(bad)} is not a scope name: ${SCOPE_NAME_RULE}`)
  if (config.authorize !== undefined && typeof config.authorize !== 'function') fail('authorize must be a function')
  const { cost = 1 } = config
  if (config.cost !== undefined && !credits) fail('cost needs the credits option: pass credits: true to the plugin (docs/usage.md), or leave cost out')
  if (!Number.isInteger(cost) || (cost as number) < 0 || (cost as number) > MAX_COST) fail(`cost must be an integer from 0 to ${MAX_COST}`)
  return {
    optional: config.optional === true,
    scopes: Object.freeze([...(scopes as string[])]),
    authorize: (config.authorize as RouteSettings['authorize']) ?? null,
    cost: cost as number
  }
}
