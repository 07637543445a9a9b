import type { ApiKeyRecord } from './types.js'

export type ApiKeyStatus = 'active' | 'disabled' | 'revoked' | 'expired'

/** The statuses a manager knows: 'disabled' only with the suspension feature. */
export function statusesOf (suspension: boolean): readonly ApiKeyStatus[] {
  return Object.freeze(suspension ? ['active', 'disabled', 'revoked', 'expired'] : ['active', 'revoked', 'expired'])
}

export const STATUSES = statusesOf(true)

type StatusFields = Pick<ApiKeyRecord, 'revoked' | 'expiresAt'> & { disabled?: unknown }

// Revocation wins (it is permanent), then suspension (an operator's act),
// then the date. `disabled` is honoured whenever the row has it, with the
// feature on or not: a key another instance (or SQL) disabled is never let through.
export function keyStatus (key: StatusFields, now: number): ApiKeyStatus {
  if (key.revoked) return 'revoked'
  if (key.disabled === true) return 'disabled'
  if (key.expiresAt !== null && key.expiresAt.getTime() <= now) return 'expired'
  return 'active'
}

/** A record with its status: what the CLI prints and the panel's API returns. */
export function withStatus<R extends ApiKeyRecord> (record: R, now: number): R & { status: ApiKeyStatus } {
  return { ...record, status: keyStatus(record, now) }
}

// The same rule as keyStatus, as a Prisma `where` clause. Without the
// feature the model may lack the column, so it is not named.
export function statusWhere (status: ApiKeyStatus, now: Date, suspension: boolean): object {
  const live = suspension ? { revoked: false, disabled: false } : { revoked: false }
  switch (status) {
    case 'revoked': return { revoked: true }
    case 'disabled': return { revoked: false, disabled: true }
    case 'expired': return { ...live, expiresAt: { lte: now } }
    case 'active': return { ...live, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] }
  }
}
