import type { ApiKeyRecord } from './types.js'

export type ApiKeyStatus = 'active' | 'revoked' | 'expired'
export const STATUSES: readonly ApiKeyStatus[] = ['active', 'revoked', 'expired']

// Revocation wins over expiry: a revoked key stays revoked whatever its date.
export function keyStatus (key: Pick<ApiKeyRecord, 'revoked' | 'expiresAt'>, now: number): ApiKeyStatus {
  if (key.revoked) return 'revoked'
  if (key.expiresAt !== null && key.expiresAt.getTime() <= now) return 'expired'
  return 'active'
}

/** A record with its status: what the CLI prints and the panel's API returns. */
export function withStatus<R extends ApiKeyRecord> (record: R, now: number): R & { status: ApiKeyStatus } {
  return { ...record, status: keyStatus(record, now) }
}

// The same rule as keyStatus, as a Prisma `where` clause.
export function statusWhere (status: ApiKeyStatus, now: Date): object {
  switch (status) {
    case 'revoked': return { revoked: true }
    case 'expired': return { revoked: false, expiresAt: { lte: now } }
    case 'active': return { revoked: false, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] }
  }
}
