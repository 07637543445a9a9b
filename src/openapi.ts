import { fail, isPlainObject } from './checks.js'
import { headerOptions, type ApiKeyPluginOptions } from './plugin-options.js'

export interface ApiKeySecurityScheme {
  type: 'apiKey'
  in: 'header'
  name: string
  description: string
}

/**
 * The OpenAPI security scheme for keys read from `header` (with `keyword`), to
 * put in @fastify/swagger's `components.securitySchemes`. OpenAPI's `http`
 * type only names registered schemes (Basic, Bearer): `Api-Key` is a header
 * of type `apiKey` whose value starts with the keyword.
 * @example
 * await fastify.register(swagger, { openapi: { components: { securitySchemes: { apiKey: apiKeySecurityScheme() } } } })
 */
export function apiKeySecurityScheme (options: Pick<ApiKeyPluginOptions, 'header' | 'keyword'> = {}): ApiKeySecurityScheme {
  if (!isPlainObject(options)) fail('options', 'expected the plugin\'s { header, keyword } or nothing')
  const { header, keyword } = headerOptions(options)
  return {
    type: 'apiKey',
    in: 'header',
    name: header === 'authorization' ? 'Authorization' : header,
    description: keyword === null ? 'An API key' : `An API key, sent as \`${keyword} <key>\``
  }
}
