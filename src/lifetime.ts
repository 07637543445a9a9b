import { errors } from './errors.js'
import { formatDuration } from './expiry.js'
import type { LifetimeSettings } from './options.js'

// The expiry policy (maxLifetime, defaultLifetime): every key a manager
// creates or changes expires within maxLifetime of its creation. Rotation
// keeps expiresAt, so it cannot extend a key either.

/** The expiry a new key is stored with: the one given, checked, or the policy's default (null: never). */
export function expiryOfNewKey (expiresAt: Date | null, lifetime: LifetimeSettings, now: number): Date | null {
  if (expiresAt === null) {
    const ms = lifetime.default ?? lifetime.max
    return ms === null ? null : new Date(now + ms)
  }
  const { max } = lifetime
  if (max !== null && expiresAt.getTime() > now + max) {
    throw new errors.LIFETIME_EXCEEDED(formatDuration(max), `give an expiresAt up to ${new Date(now + max).toISOString()}, or none to get the default`)
  }
  return expiresAt
}

/** Refuses a new expiry (null: never) past createdAt + max. */
export function checkNewExpiry (expiresAt: Date | null, createdAt: Date, max: number): void {
  const limit = new Date(createdAt.getTime() + max)
  if (expiresAt === null) {
    throw new errors.LIFETIME_EXCEEDED(formatDuration(max), `a key cannot be made to never expire; give an expiresAt up to ${limit.toISOString()}`)
  }
  if (expiresAt.getTime() > limit.getTime()) {
    throw new errors.LIFETIME_EXCEEDED(formatDuration(max),
      `this key was created at ${createdAt.toISOString()}, so give an expiresAt up to ${limit.toISOString()}, or create a new key`)
  }
}
