import type { GetKey } from './credentials.js'
import { fail } from './checks.js'
import { MANAGER_OPTIONS, normalizeManagerOptions, type ApiKeyManagerOptions, type ManagerSettings } from './options.js'

export type HookName = 'preHandler' | 'onRequest'

export interface ApiKeyPluginOptions extends ApiKeyManagerOptions {
  /** The header that carries the key (default `authorization`). */
  header?: string
  /** The scheme before the key: `Api-Key` on `authorization`, none on other headers. */
  keyword?: string | null
  /** Reads the key from the request in any other way; replaces header/keyword. */
  getKey?: GetKey
  /** The route hook that checks the key (default `preHandler`). */
  hook?: HookName
  /** The realm in `WWW-Authenticate` (default none). */
  realm?: string
  /**
   * Names this registration (default `apiKey`): the request property, the route
   * config key, `fastify.<name>s` (the manager) and `fastify.verify<Name>`.
   */
  decorator?: string
  /** Documents protected routes under this OpenAPI security scheme (with @fastify/swagger; docs/recipes.md). */
  securityScheme?: string
}

export interface PluginSettings {
  manager: ManagerSettings
  header: string
  keyword: string | null
  getKey: GetKey | null
  hook: HookName
  /** WWW-Authenticate for a request without a key, and for one whose key was refused */
  challenges: { missing: string, invalid: string }
  decorator: string
  securityScheme: string | null
}

const PLUGIN_OPTIONS = [...MANAGER_OPTIONS, 'header', 'keyword', 'getKey', 'hook', 'realm', 'decorator', 'securityScheme'] as const
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Where the key travels: the header (lower case) and the scheme before the key, if any. */
export function headerOptions (o: Pick<ApiKeyPluginOptions, 'header' | 'keyword'>): { header: string, keyword: string | null } {
  const header = o.header ?? 'authorization'
  if (typeof header !== 'string' || !TOKEN.test(header)) fail('header', 'expected a header name such as x-api-key')
  const keyword = o.keyword === undefined ? (header.toLowerCase() === 'authorization' ? 'Api-Key' : null) : o.keyword
  if (keyword !== null && (typeof keyword !== 'string' || !TOKEN.test(keyword))) {
    fail('keyword', 'expected an authentication scheme such as Api-Key (letters, digits and -._~+ only), or null')
  }
  return { header: header.toLowerCase(), keyword }
}

export function normalizePluginOptions (opts: unknown): PluginSettings {
  const manager = normalizeManagerOptions(opts, PLUGIN_OPTIONS)
  const o = opts as ApiKeyPluginOptions
  const { header, keyword } = headerOptions(o)
  if (o.getKey !== undefined && typeof o.getKey !== 'function') fail('getKey', 'expected a function (request) => string | undefined')
  if (o.getKey !== undefined && (o.header !== undefined || o.keyword !== undefined)) {
    fail('getKey', 'replaces header and keyword: give one or the others')
  }
  const hook = o.hook ?? 'preHandler'
  if (hook !== 'preHandler' && hook !== 'onRequest') fail('hook', "expected 'preHandler' or 'onRequest'")
  if (o.realm !== undefined && (typeof o.realm !== 'string' || /["\\\r\n]/.test(o.realm))) {
    fail('realm', 'expected a string without quotes, backslashes or line breaks')
  }
  const decorator = o.decorator ?? 'apiKey'
  if (typeof decorator !== 'string' || !IDENTIFIER.test(decorator)) fail('decorator', 'expected a JavaScript identifier such as partnerKey')
  if (o.securityScheme !== undefined && (typeof o.securityScheme !== 'string' || o.securityScheme === '')) {
    fail('securityScheme', 'expected the name of a security scheme in your OpenAPI components, such as apiKey')
  }
  const realm: Record<string, string> = o.realm === undefined ? {} : { realm: o.realm }
  return {
    manager,
    header,
    keyword,
    getKey: o.getKey ?? null,
    hook,
    challenges: {
      missing: challenge(keyword ?? 'Api-Key', realm),
      invalid: challenge(keyword ?? 'Api-Key', { ...realm, error: 'invalid_key' })
    },
    decorator,
    securityScheme: o.securityScheme ?? null
  }
}

/**
 * A WWW-Authenticate challenge (RFC 9110, section 11.6.1): the scheme, then
 * its parameters as name="value", separated by commas.
 */
function challenge (scheme: string, params: Record<string, string>): string {
  const list = Object.entries(params).map(([name, value]) => `${name}="${value}"`).join(', ')
  return list === '' ? scheme : `${scheme} ${list}`
}
