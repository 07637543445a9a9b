import createError from '@fastify/error'

// One answer for every failure an attacker could provoke without the secret.
// An unknown prefix and a wrong secret share their code (and their timing,
// see the verifier): a caller cannot learn which prefixes exist. Logs get the
// difference from the error's `reason` property, which is not sent.
const INVALID = 'Invalid API key'

/**
 * Every error the library throws, as @fastify/error constructors, by name;
 * each has its `FST_API_KEY_*` code and status (README's error table).
 * @example
 * if (err instanceof errors.REVOKED) reply.header('x-key-state', 'revoked')
 * if (err.code === 'FST_API_KEY_UNAVAILABLE') retryLater()
 */
export const errors = {
  // 401: the request did not prove it holds a working key.
  MISSING: createError('FST_API_KEY_MISSING', 'Missing API key', 401),
  // Not a key at all: its format is public, so saying so discloses nothing.
  MALFORMED: createError('FST_API_KEY_MALFORMED', INVALID, 401),
  INVALID: createError('FST_API_KEY_INVALID', INVALID, 401),
  // Only reported once the secret matched, so they disclose nothing to a guesser.
  REVOKED: createError('FST_API_KEY_REVOKED', 'API key has been revoked', 401),
  EXPIRED: createError('FST_API_KEY_EXPIRED', 'API key has expired', 401),
  // Suspended by an operator (disable), until enable: docs/usage.md.
  DISABLED: createError('FST_API_KEY_DISABLED', 'API key has been disabled', 401),
  // The app's own `usable` rule refused it (e.g. its organization is deactivated).
  UNUSABLE: createError('FST_API_KEY_UNUSABLE', 'API key cannot be used', 401),

  // After the secret matched: the key is good, the place it is used from is not (ipAllowlist).
  IP_NOT_ALLOWED: createError('FST_API_KEY_IP_NOT_ALLOWED', 'API key is not allowed from this address', 403),
  FORBIDDEN: createError('FST_API_KEY_FORBIDDEN', 'API key is not allowed to access this route', 403),
  MISSING_SCOPE: createError('FST_API_KEY_MISSING_SCOPE', 'API key lacks the scope %s', 403),
  // Out of credits (the credits feature); Retry-After says when the next refill is due, if one is.
  USAGE_EXCEEDED: createError('FST_API_KEY_USAGE_EXCEEDED', 'API key has used up its credits', 429),
  THROTTLED: createError('FST_API_KEY_THROTTLED', 'Too many failed attempts for this API key, try again later', 429),
  BUSY: createError('FST_API_KEY_BUSY', 'Too many API keys waiting to be checked, try again later', 503),
  UNAVAILABLE: createError('FST_API_KEY_UNAVAILABLE', 'API key store is unavailable, try again later', 503),

  // The secret scanning receiver (docs/leaks.md): a report that is not GitHub's, or not a report.
  LEAK_SIGNATURE: createError('FST_API_KEY_LEAK_SIGNATURE', 'Secret scanning report not accepted: %s', 401),
  LEAK_REPORT: createError('FST_API_KEY_LEAK_REPORT', 'Malformed secret scanning report: %s', 400),
  LEAK_KEYS: createError('FST_API_KEY_LEAK_KEYS', 'Could not read the secret scanning signing keys: %s', 503),

  // %s: the header's name, from src/admin/csrf.ts (CSRF_HEADER).
  ADMIN_CSRF: createError('FST_API_KEY_ADMIN_CSRF', 'Admin API calls must come from the admin page (header %s: 1, same site)', 403),

  // Programming errors: thrown at register/startup or by manager calls.
  INVALID_OPTION: createError('FST_API_KEY_INVALID_OPTION', 'Invalid option %s: %s', 500, TypeError),
  INVALID_ROUTE_CONFIG: createError('FST_API_KEY_INVALID_ROUTE_CONFIG', 'Invalid config.%s on route %s: %s', 500, TypeError),
  UNPROTECTED_ROUTE: createError('FST_API_KEY_UNPROTECTED_ROUTE', 'Routes ask for an API key that no registration of fastify-prisma-api-key reaches: %s. ' +
    'Register the plugin (with the decorator each names) before adding these routes, in their scope or a parent scope: `await app.register(apiKeyPlugin, ...)` first', 500, TypeError),
  NOT_MIGRATED: createError('FST_API_KEY_NOT_MIGRATED', 'The database does not have the key model\'s table or columns (%s): run `prisma migrate deploy`', 500),
  INVALID_ARGUMENT: createError('FST_API_KEY_INVALID_ARGUMENT', 'Invalid argument %s: %s', 400, TypeError),
  // An expiry the maxLifetime option forbids (%s: the maximum, then what to give instead).
  LIFETIME_EXCEEDED: createError('FST_API_KEY_LIFETIME_EXCEEDED', 'API keys may live at most %s (the maxLifetime option): %s', 400, TypeError),
  NAME_REQUIRED: createError('FST_API_KEY_NAME_REQUIRED', 'An API key needs a non-empty name', 400, TypeError),
  NOT_FOUND: createError('FST_API_KEY_NOT_FOUND', 'No API key with id %s', 404),
  UNREVOKE: createError('FST_API_KEY_UNREVOKE', 'Revocation is permanent: API key %s cannot be un-revoked, create a new key instead', 409),
  ENABLE_REVOKED: createError('FST_API_KEY_ENABLE_REVOKED', 'API key %s is revoked: revocation is permanent, it cannot be enabled; create a new key instead', 409),
  // An optional feature's method, filter or column, on a manager built without its option (%s: the feature, then what to pass).
  FEATURE_OFF: createError('FST_API_KEY_FEATURE_OFF', 'The %s feature is off: %s', 500, TypeError),
  // manager.importKey (docs/migrating.md); %s: the key's prefix, then why. Never the hash itself.
  IMPORT_HASH: createError('FST_API_KEY_IMPORT_HASH', 'Cannot import the key %s: %s', 400, TypeError),
  IMPORT_CONFLICT: createError('FST_API_KEY_IMPORT_CONFLICT', 'Cannot import the key %s: %s', 409),
  // An imported key whose prefix is not one this library issues: a new secret would make a key no parser reads.
  IMPORTED_PREFIX: createError('FST_API_KEY_IMPORTED_PREFIX', 'API key %s was imported with a prefix unlike the library\'s (8 letters and digits): it cannot be rotated, create a new key instead', 409),
  NOT_ROTATABLE: createError('FST_API_KEY_NOT_ROTATABLE', 'API key %s is revoked: it cannot be rotated, create a new key instead', 409),
  ROTATE_CONFLICT: createError('FST_API_KEY_ROTATE_CONFLICT', 'API key %s kept changing during rotation (%s attempts): try again', 409),
  // A query Prisma would not run (an unknown column, a value of the wrong type): the reason only, never the arguments.
  // Background only (onBackgroundError): the change feed's query or connection failed.
  FEED_BROKEN: createError('FST_API_KEY_FEED_BROKEN', 'The change feed stopped: until it is back (it is retried), changes made elsewhere reach this instance within cacheTtl', 500),
  QUERY_REFUSED: createError('FST_API_KEY_QUERY_REFUSED', 'Prisma refused the query: %s', 500),
  CLOSED: createError('FST_API_KEY_CLOSED', 'The API key manager is closed: it cannot %s any more', 500),
  PREFIX_EXHAUSTED: createError('FST_API_KEY_PREFIX_EXHAUSTED', 'Could not find a free key prefix after %s attempts', 500)
} as const
