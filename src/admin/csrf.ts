import type { FastifyRequest } from 'fastify'
import { errors } from '../errors.js'

// The header the panel's script sends with every API call, its name written
// into the page (page.ts) and into the refusal. A cross-site form or image
// cannot set a custom header, and a cross-site fetch that does needs a CORS
// preflight this plugin never answers: CSRF cannot reach the API.
export const CSRF_HEADER = 'x-api-key-admin'

/** The API scope's onRequest hook: refuses what the page did not send. */
export async function refuseCrossSite (request: FastifyRequest): Promise<void> {
  // Browsers say where a request comes from; refuse what another site sent.
  if (request.headers['sec-fetch-site'] === 'cross-site') throw new errors.ADMIN_CSRF(CSRF_HEADER)
  if (request.headers[CSRF_HEADER] !== '1') throw new errors.ADMIN_CSRF(CSRF_HEADER)
}
