import { errors } from './errors.js'

/** The fields every key model has (docs/custom-models.md); extra ones pass through. */
export interface ApiKeyRecord {
  id: string
  prefix: string
  name: string
  revoked: boolean
  expiresAt: Date | null
  createdAt: Date
  lastUsedAt: Date | null
}

export interface StoredApiKey extends ApiKeyRecord {
  hashedKey: string
}

// Typed structurally, as Prisma's delegates (`prisma.apiKey`) are generic in
// ways a library cannot name: any model with these methods and the columns
// above works, whatever it is called.
export interface ApiKeyDelegate {
  create (args: any): PromiseLike<any>
  findUnique (args: any): PromiseLike<any>
  findMany (args: any): PromiseLike<any>
  count (args: any): PromiseLike<any>
  update (args: any): PromiseLike<any>
  updateMany (args: any): PromiseLike<any>
}

/** The delegate methods the library calls. */
export const DELEGATE_METHODS = ['create', 'findUnique', 'findMany', 'count', 'update', 'updateMany'] as const

const OMIT_HASH = { hashedKey: true } as const

// The unique-constraint code; every adapter maps its driver's error to it.
export function isUniqueViolation (err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'P2002'
}

// Prisma codes that describe the query or its data (a duplicate, a missing row,
// a value that does not fit): the caller's to handle. Every other failure (no
// connection, pool timeout, driver errors) means the store could not answer.
const QUERY_ERRORS = new Set([
  'P2000', 'P2002', 'P2003', 'P2004', 'P2005', 'P2006', 'P2007', 'P2009', 'P2011', 'P2012',
  'P2013', 'P2014', 'P2015', 'P2016', 'P2017', 'P2018', 'P2019', 'P2020', 'P2025', 'P2026'
])

export function isUnavailable (err: unknown): boolean {
  const e = err as { name?: unknown, code?: unknown }
  if (e?.name === 'PrismaClientValidationError') return false
  return !(e?.name === 'PrismaClientKnownRequestError' && QUERY_ERRORS.has(e.code as string))
}

function translate (err: unknown): never {
  throw isUnavailable(err) ? new errors.UNAVAILABLE({ cause: err }) : err
}

// The only module that talks to Prisma. Everything returned to callers is
// read with `omit: { hashedKey: true }`, so the hash never leaves this file
// except through findByPrefix(es), which the verifier needs.
export class Store<R extends ApiKeyRecord = ApiKeyRecord> {
  readonly #model: ApiKeyDelegate

  constructor (model: ApiKeyDelegate) {
    this.#model = model
  }

  async create (data: Record<string, unknown>): Promise<R> {
    try {
      return await this.#model.create({ data, omit: OMIT_HASH })
    } catch (err) {
      if (isUniqueViolation(err)) throw err
      return translate(err)
    }
  }

  async findByPrefix (prefix: string): Promise<(R & { hashedKey: string }) | null> {
    try {
      return await this.#model.findUnique({ where: { prefix } })
    } catch (err) {
      throw new errors.UNAVAILABLE({ cause: err })
    }
  }

  /** Rows for many prefixes in one query (the verifier's background refresh). */
  async findByPrefixes (prefixes: string[]): Promise<Array<R & { hashedKey: string }>> {
    try {
      return await this.#model.findMany({ where: { prefix: { in: prefixes } } })
    } catch (err) {
      throw new errors.UNAVAILABLE({ cause: err })
    }
  }

  async prefixExists (prefix: string): Promise<boolean> {
    return (await this.findByPrefix(prefix)) !== null
  }

  async get (where: { id: string } | { prefix: string }): Promise<R | null> {
    try {
      return await this.#model.findUnique({ where, omit: OMIT_HASH })
    } catch (err) {
      return translate(err)
    }
  }

  async list (where: object, take: number, skip: number): Promise<{ items: R[], total: number }> {
    try {
      const [items, total] = await Promise.all([
        this.#model.findMany({ where, take, skip, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], omit: OMIT_HASH }),
        this.#model.count({ where })
      ])
      return { items, total }
    } catch (err) {
      return translate(err)
    }
  }

  /** Updates one key; null when no key has that id. */
  async update (id: string, data: Record<string, unknown>): Promise<R | null> {
    try {
      return await this.#model.update({ where: { id }, data, omit: OMIT_HASH })
    } catch (err) {
      if ((err as { code?: unknown })?.code === 'P2025') return null
      return translate(err)
    }
  }

  async touchLastUsed (ids: string[], at: Date): Promise<void> {
    try {
      await this.#model.updateMany({ where: { id: { in: ids } }, data: { lastUsedAt: at } })
    } catch (err) {
      translate(err)
    }
  }

  /** Replaces a hash only if it is still the one that was verified. */
  async replaceHash (id: string, from: string, to: string): Promise<void> {
    await this.#model.updateMany({ where: { id, hashedKey: from }, data: { hashedKey: to } })
  }
}
