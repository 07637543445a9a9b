import { badArgument, isPlainObject } from './checks.js'
import type { Store } from './store.js'
import type { ApiKeyRecord } from './types.js'

// Revoking keys nobody uses any more (manager.revokeIdle, the CLI's sweep).
// lastUsedAt is written at most once per lastUsedInterval, so idleness is
// known to within that interval: hence the hour's minimum.

export interface RevokeIdleInput {
  /** Revoke keys not used for this long (ms, at least an hour): by lastUsedAt, or since createdAt when never used. */
  unusedFor: number
  /** List what would be revoked, and revoke nothing. */
  dryRun?: boolean
}

const HOUR = 60 * 60 * 1000
// Ids per statement: far below every database's limit on bound parameters.
const BATCH = 500

export function checkIdle (input: RevokeIdleInput): { unusedFor: number, dryRun: boolean } {
  if (!isPlainObject(input)) badArgument('input', 'expected an object such as { unusedFor: 90 * 24 * 60 * 60 * 1000 }')
  for (const name of Object.keys(input)) {
    if (name !== 'unusedFor' && name !== 'dryRun') badArgument(name, 'unknown, expected unusedFor or dryRun')
  }
  const { unusedFor, dryRun = false } = input
  if (!Number.isInteger(unusedFor) || unusedFor < HOUR) badArgument('unusedFor', `expected milliseconds, an integer of at least ${HOUR} (an hour)`)
  if (typeof dryRun !== 'boolean') badArgument('dryRun', 'expected true or false')
  return { unusedFor, dryRun }
}

// Not used since `cutoff`, or never used and created before it.
const unusedSince = (cutoff: Date): object => ({ OR: [{ lastUsedAt: { lt: cutoff } }, { lastUsedAt: null, createdAt: { lt: cutoff } }] })

/** Runs a batch's revocation as one change (the manager's: in a transaction with its events, when it records them). */
export type BatchChange<R extends ApiKeyRecord> = (work: (store: Store<R>) => Promise<R[]>) => Promise<R[]>

/**
 * The keys not revoked and unused since `cutoff`, scanned by id in batches;
 * unless `dryRun`, each batch revoked in one statement that checks again that
 * they are unused, so a key used since it was read is spared. Returns them as
 * found, marked revoked when they were.
 */
export async function sweepIdle<R extends ApiKeyRecord> (store: Store<R>, cutoff: Date, dryRun: boolean, change: BatchChange<R>): Promise<R[]> {
  const idle = { revoked: false, ...unusedSince(cutoff) }
  const swept: R[] = []
  for await (const batch of store.pages(idle, BATCH)) {
    // A dry run only lists; an empty page has nothing to revoke.
    if (dryRun || batch.length === 0) {
      swept.push(...batch)
      continue
    }
    const ids = { id: { in: batch.map((record) => record.id) } }
    const revoked = await change(async (store) => {
      const count = await store.revokeWhere({ AND: [ids, idle] })
      // Fewer than read: some were used (or revoked) meanwhile; those still
      // unused and now revoked are the ones this statement revoked.
      const revoked = count === batch.length ? batch : await store.page({ AND: [ids, { revoked: true, ...unusedSince(cutoff) }] }, null, BATCH)
      return revoked.map((record) => ({ ...record, revoked: true }))
    })
    swept.push(...revoked)
  }
  return swept
}
