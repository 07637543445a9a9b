import { errors } from './errors.js'
import { isUniqueViolation, reasonOf, startupRead, translate } from './store.js'

// Typed structurally, like the key model's delegate (src/store.ts): any model
// with these methods and the ApiKeyUsage columns works, whatever it is called.
export interface UsageDelegate {
  create (args: any): PromiseLike<any>
  findMany (args: any): PromiseLike<any>
  updateMany (args: any): PromiseLike<any>
}

/** The usage delegate's methods the library calls. */
export const USAGE_METHODS = ['updateMany', 'create', 'findMany'] as const

export interface UsagePeriod {
  periodStart: Date
  count: number
}

const isMissingKey = (err: unknown): boolean => (err as { code?: unknown })?.code === 'P2003'

// The usage history's I/O: rows of (keyId, periodStart, count), only ever
// added to, so that any number of instances add up without coordinating.
export class UsageStore {
  readonly #model: UsageDelegate

  constructor (model: UsageDelegate) {
    this.#model = model
  }

  /**
   * Adds `n` to a key's count for a period, atomically: an increment of the
   * row, or the row created when there is none. Another instance may create
   * it in between (P2002): then the increment finds it. A key deleted
   * meanwhile (P2003) takes its uses with it: they are dropped.
   */
  async add (keyId: string, periodStart: Date, n: number): Promise<void> {
    try {
      if (await this.#increment(keyId, periodStart, n)) return
      try {
        await this.#model.create({ data: { keyId, periodStart, count: n }, select: { keyId: true } })
      } catch (err) {
        if (isMissingKey(err)) return
        if (!isUniqueViolation(err)) throw err
        // A row that vanished after the P2002 went with its key (the cascade).
        await this.#increment(keyId, periodStart, n)
      }
    } catch (err) {
      translate(err)
    }
  }

  async #increment (keyId: string, periodStart: Date, n: number): Promise<boolean> {
    const { count } = await this.#model.updateMany({ where: { keyId, periodStart }, data: { count: { increment: n } } })
    return count > 0
  }

  /** A key's periods that start in [from, to), oldest first. */
  async range (keyId: string, from: Date, to: Date): Promise<UsagePeriod[]> {
    try {
      return await this.#model.findMany({
        where: { keyId, periodStart: { gte: from, lt: to } },
        orderBy: { periodStart: 'asc' },
        select: { periodStart: true, count: true }
      })
    } catch (err) {
      return translate(err)
    }
  }

  /**
   * The plugin's startup check of the usage option: one read of no row, of
   * every column. A missing table or column is NOT_MIGRATED; a validation
   * error, a model that is not a usage model.
   */
  async check (): Promise<void> {
    const read = Promise.resolve(this.#model.findMany({ where: { keyId: '' }, take: 1, select: { keyId: true, periodStart: true, count: true } }))
    await startupRead(read, async (err) => new errors.INVALID_OPTION('usage.model', reasonOf(err), { cause: err }))
  }
}
