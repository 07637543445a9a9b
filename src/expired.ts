import { badArgument, isPlainObject } from './checks.js'
import type { Store } from './store.js'
import type { ApiKeyRecord } from './types.js'

// Recording the keys that reached their expiresAt (manager.recordExpired, the
// CLI's sweep --expired). Nothing is written when a key expires, so there is
// no change to carry the event: a job finds them, and the audit log says which
// were recorded before, so each expiry is recorded once.

export interface RecordExpiredInput {
  /** List the keys whose expiry would be recorded, and record nothing. */
  dryRun?: boolean
}

// Ids per statement: far below every database's limit on bound parameters.
const BATCH = 500

export function checkExpired (input: RecordExpiredInput): { dryRun: boolean } {
  if (!isPlainObject(input)) badArgument('input', 'expected an object such as { dryRun: true }')
  for (const name of Object.keys(input)) if (name !== 'dryRun') badArgument(name, 'unknown, expected dryRun')
  const { dryRun = false } = input
  if (typeof dryRun !== 'boolean') badArgument('dryRun', 'expected true or false')
  return { dryRun }
}

/** Records the expiry of those of these keys whose expiry is not recorded yet (none with `dryRun`); returns them. */
export type ExpiredLog<R extends ApiKeyRecord> = (records: R[], dryRun: boolean) => Promise<R[]>

/**
 * The keys not revoked whose expiresAt is past `now` and whose expiry the log
 * does not hold yet, scanned by id in batches; unless `dryRun`, each batch's
 * recorded. A revoked key ended before it expired: it is left out.
 */
export async function sweepExpired<R extends ApiKeyRecord> (store: Store<R>, now: Date, dryRun: boolean, log: ExpiredLog<R>): Promise<R[]> {
  const expired = { revoked: false, expiresAt: { lte: now } }
  const found: R[] = []
  for await (const batch of store.pages(expired, BATCH)) {
    if (batch.length > 0) found.push(...await log(batch, dryRun))
  }
  return found
}
