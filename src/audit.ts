import { fail } from './checks.js'
import { errors } from './errors.js'
import { eventOf, eventRow, type ApiKeyEvent, type EventDraft } from './events.js'
import { reasonOf, startupRead, Store, translate, type ApiKeyDelegate, type StoreFeatures } from './store.js'
import type { ApiKeyRecord } from './types.js'

// Typed structurally, like the key model's delegate (src/store.ts).
export interface EventDelegate {
  create (args: any): PromiseLike<any>
  findMany (args: any): PromiseLike<any>
}

/** The audit delegate's methods the library calls. */
export const EVENT_METHODS = ['create', 'findMany'] as const

// What a Prisma delegate carries besides its methods: the model's name and
// the client it belongs to (the client extensions' $name and $parent), which
// the transaction needs to find the same models inside it.
interface Bound { $name?: unknown, $parent?: unknown }
interface TransactionClient { $transaction: (work: (tx: Record<string, unknown>) => Promise<unknown>) => Promise<unknown> }

// The client's property for a model: Prisma's own rule, the name with its first letter in lower case.
const propertyOf = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1)

const ours = (err: unknown): boolean => String((err as { code?: unknown })?.code).startsWith('FST_API_KEY_')

export interface AuditSettings {
  /** the audit model's delegate (the `audit` option's), or null: events only go to onEvent */
  model: EventDelegate | null
  onEvent: ((event: ApiKeyEvent) => unknown) | null
  onError: (err: unknown) => void
}

/**
 * Every change to a key goes through change(): without an audit model and
 * without onEvent, the work alone; otherwise the work tells its events, which
 * the audit model records in the same transaction (a Prisma interactive
 * transaction on the key model's client), so neither lands without the
 * other, and onEvent hears of them once committed.
 */
export class Audit<R extends ApiKeyRecord> {
  readonly #store: Store<R>
  readonly #features: StoreFeatures
  readonly #settings: AuditSettings
  readonly #transaction: Transaction | null

  constructor (keyModel: ApiKeyDelegate, store: Store<R>, features: StoreFeatures, settings: AuditSettings) {
    this.#store = store
    this.#features = features
    this.#settings = settings
    this.#transaction = settings.model === null ? null : transactionOf(keyModel, settings.model)
  }

  /** Whether changes need to tell their events (the reads that say what changed cost a query). */
  get listening (): boolean {
    return this.#settings.model !== null || this.#settings.onEvent !== null
  }

  /** Runs `work` on the key store, recording and announcing the events it returns. */
  async change<T> (work: (store: Store<R>) => Promise<{ result: T, events: EventDraft[] }>): Promise<T> {
    const transaction = this.#transaction
    if (transaction === null) {
      const { result, events } = await work(this.#store)
      for (const draft of events) this.#announce({ ...draft, id: null, at: new Date() })
      return result
    }
    let outcome: { result: T, events: EventDraft[] }
    let recorded: ApiKeyEvent[] = []
    try {
      await transaction(async (keys, events) => {
        outcome = await work(new Store<R>(keys, this.#features))
        recorded = await record(events, outcome.events)
      })
    } catch (err) {
      // The store's own errors as they are; Prisma's from the transaction
      // itself (or the event's insert) as the store translates them.
      if (ours(err)) throw err
      translate(err)
    }
    for (const event of recorded) this.#announce(event)
    return outcome!.result
  }

  /** An event no change carries (credits ran out): recorded on its own, best effort; failures go to onError. */
  notice (draft: EventDraft): void {
    const { model } = this.#settings
    if (model === null) return this.#announce({ ...draft, id: null, at: new Date() })
    record(model, [draft]).then(([event]) => this.#announce(event), this.#settings.onError)
  }

  /**
   * Events no change carries, found by a job (expiries), all of one type: those
   * whose key has no event of that type yet are recorded (unless `dryRun`), then heard,
   * and returned. Failures go to the caller.
   */
  async addNew (drafts: EventDraft[], dryRun: boolean): Promise<EventDraft[]> {
    const model = this.#model()
    let fresh: EventDraft[]
    let recorded: ApiKeyEvent[] = []
    try {
      const known = await model.findMany({ where: { type: drafts[0].type, keyId: { in: drafts.map(({ keyId }) => keyId) } }, select: { keyId: true } })
      const seen = new Set(known.map(({ keyId }: { keyId: string }) => keyId))
      fresh = drafts.filter(({ keyId }) => !seen.has(keyId))
      if (!dryRun) recorded = await record(model, fresh)
    } catch (err) {
      return translate(err)
    }
    for (const event of recorded) this.#announce(event)
    return fresh
  }

  #model (): EventDelegate {
    const { model } = this.#settings
    if (model === null) throw new errors.FEATURE_OFF('audit log', 'pass audit: { model: prisma.apiKeyEvent } to the plugin or createApiKeyManager (docs/events.md)')
    return model
  }

  /** A key's events, newest first. */
  async list (keyId: string, take: number, before: number | null): Promise<ApiKeyEvent[]> {
    const model = this.#model()
    try {
      const rows = await model.findMany({ where: before === null ? { keyId } : { keyId, id: { lt: before } }, orderBy: { id: 'desc' }, take })
      return rows.map(eventOf)
    } catch (err) {
      return translate(err)
    }
  }

  #announce (event: ApiKeyEvent): void {
    const { onEvent, onError } = this.#settings
    if (onEvent === null) return
    // The change is made: a listener's failure is its own, not the caller's.
    try {
      Promise.resolve(onEvent(event)).catch(onError)
    } catch (err) {
      onError(err)
    }
  }
}

/** The plugin's startup check of the audit option: one read of no row, of every column. */
export async function checkEventModel (model: EventDelegate): Promise<void> {
  const read = Promise.resolve(model.findMany({ where: { keyId: '' }, take: 1, select: { id: true, keyId: true, prefix: true, type: true, actor: true, changes: true, details: true, createdAt: true } }))
  await startupRead(read, async (err) => new errors.INVALID_OPTION('audit.model', reasonOf(err), { cause: err }))
}

async function record (model: EventDelegate, drafts: EventDraft[]): Promise<ApiKeyEvent[]> {
  if (drafts.length === 0) return []
  // One insert per event: createMany returns no rows on MySQL, and the
  // listeners get the ids. A change has one event, a sweep's batch a few hundred.
  const rows: ApiKeyEvent[] = []
  for (const draft of drafts) rows.push(eventOf(await model.create({ data: eventRow(draft) })))
  return rows
}

// The key model and the audit model inside one interactive transaction of
// their client: both must be delegates of the same PrismaClient.
type Transaction = (work: (keys: ApiKeyDelegate, events: EventDelegate) => Promise<void>) => Promise<unknown>

function transactionOf (keyModel: ApiKeyDelegate, eventModel: EventDelegate): Transaction {
  const key = keyModel as unknown as Bound
  const event = eventModel as unknown as Bound
  const client = key.$parent as Partial<TransactionClient> & Record<string, unknown> | undefined
  if (typeof key.$name !== 'string' || typeof event.$name !== 'string' || typeof client?.$transaction !== 'function' || event.$parent !== client ||
      client[propertyOf(key.$name)] === undefined || client[propertyOf(event.$name)] === undefined) {
    fail('audit.model', 'expected a delegate of the same PrismaClient as model, e.g. audit: { model: prisma.apiKeyEvent } with model: prisma.apiKey: the events are written in the same transaction as the change')
  }
  const keyName = propertyOf(key.$name)
  const eventName = propertyOf(event.$name)
  return async (work) => await (client as TransactionClient).$transaction(async (tx) => await work(tx[keyName] as ApiKeyDelegate, tx[eventName] as EventDelegate))
}
