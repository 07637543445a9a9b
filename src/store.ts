import { errors } from './errors.js'
import { MAX_CREDITS } from './refill.js'
import type { ApiKeyRecord, StoredApiKey } from './types.js'

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

const OMIT_HASH = { hashedKey: true, previousHashedKey: true } as const

// keyHmac (the pepper's, src/pepper.ts) is left out in JS, not by `omit`: a
// model without the column is valid without a pepper, and Prisma refuses to
// omit a field the model does not have.
function withoutHmac<R> (stored: R): R {
  const { keyHmac, ...record } = stored as R & { keyHmac?: unknown }
  return record as R
}

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

function isUnavailable (err: unknown): boolean {
  const e = err as { name?: unknown, code?: unknown }
  return !(e?.name === 'PrismaClientKnownRequestError' && QUERY_ERRORS.has(e.code as string))
}

/** A failed Prisma call as the library reports it: UNAVAILABLE, QUERY_REFUSED, or the query error itself. */
export function translate (err: unknown): never {
  // Prisma's validation errors print the call's arguments, hashes included: the reason only.
  if ((err as { name?: unknown })?.name === 'PrismaClientValidationError') throw new errors.QUERY_REFUSED(reasonOf(err))
  throw isUnavailable(err) ? new errors.UNAVAILABLE({ cause: err }) : err
}

// With src/usage-store.ts, the only module that talks to Prisma. Everything returned to callers is
// read without hashedKey, previousHashedKey and keyHmac, so none leaves this
// file except through findByPrefix(es), which the verifier needs, and
// secretOf, which rotation compares against.
/** What a Store reads and writes beyond the columns every key model has. */
export interface StoreFeatures {
  /** The relations every read returns (the `include` option), in the same Prisma call. */
  include?: object
  /** A pepper is configured: keyHmac is written, and cleared when a key is revoked or rotated. */
  hmac?: boolean
  /** The suspension feature: the model has a `disabled` column. */
  suspension?: boolean
  /** The ipAllowlist feature: the model has an `allowedIps` column. */
  ipAllowlist?: boolean
  /** The credits feature: the model has `credits`, `creditRefill` and `creditsRefilledAt` columns. */
  credits?: boolean
  /** The importedKeys feature: the model has an `importedFrom` column. */
  importedKeys?: boolean
}

/** A key's credits as the database holds them now (src/credits.ts). */
export interface CreditRow {
  credits: number | null
  creditRefill: string | null
  creditsRefilledAt: Date | null
  createdAt: Date
}

const CREDIT_COLUMNS = { credits: true, creditRefill: true, creditsRefilledAt: true, createdAt: true } as const

export class Store<R extends ApiKeyRecord = ApiKeyRecord> {
  readonly #model: ApiKeyDelegate
  readonly #include: object | undefined
  readonly #public: { omit: typeof OMIT_HASH, include?: object }
  readonly #hmac: boolean
  readonly #suspension: boolean
  readonly #ipAllowlist: boolean
  readonly #credits: boolean
  readonly #importedKeys: boolean

  constructor (model: ApiKeyDelegate, { include, hmac = false, suspension = false, ipAllowlist = false, credits = false, importedKeys = false }: StoreFeatures = {}) {
    this.#model = model
    this.#include = include
    this.#hmac = hmac
    this.#suspension = suspension
    this.#ipAllowlist = ipAllowlist
    this.#credits = credits
    this.#importedKeys = importedKeys
    this.#public = include === undefined ? { omit: OMIT_HASH } : { omit: OMIT_HASH, include }
  }

  async create (data: Record<string, unknown>): Promise<R> {
    try {
      return withoutHmac(await this.#model.create({ data, ...this.#public }))
    } catch (err) {
      if (isUniqueViolation(err)) throw err
      return translate(err)
    }
  }

  async findByPrefix (prefix: string): Promise<StoredApiKey<R> | null> {
    try {
      return await this.#model.findUnique({ where: { prefix }, include: this.#include })
    } catch (err) {
      throw new errors.UNAVAILABLE({ cause: err })
    }
  }

  /** Rows for many prefixes in one query (the verifier's background refresh). */
  async findByPrefixes (prefixes: string[]): Promise<Array<StoredApiKey<R>>> {
    try {
      return await this.#model.findMany({ where: { prefix: { in: prefixes } }, include: this.#include })
    } catch (err) {
      throw new errors.UNAVAILABLE({ cause: err })
    }
  }

  async prefixExists (prefix: string): Promise<boolean> {
    return (await this.findByPrefix(prefix)) !== null
  }

  async get (where: { id: string } | { prefix: string }): Promise<R | null> {
    try {
      const found = await this.#model.findUnique({ where, ...this.#public })
      return found === null ? null : withoutHmac(found)
    } catch (err) {
      return translate(err)
    }
  }

  async list (where: object, take: number, skip: number): Promise<{ items: R[], total: number }> {
    try {
      const [items, total] = await Promise.all([
        this.#model.findMany({ where, take, skip, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], ...this.#public }),
        this.#model.count({ where })
      ])
      return { items: items.map(withoutHmac), total }
    } catch (err) {
      return translate(err)
    }
  }

  /** Updates one key; null when no key has that id. */
  async update (id: string, data: Record<string, unknown>): Promise<R | null> {
    try {
      const changes = this.#hmac && data.revoked === true ? { ...data, keyHmac: null } : data
      return withoutHmac(await this.#model.update({ where: { id }, data: changes, ...this.#public }))
    } catch (err) {
      if ((err as { code?: unknown })?.code === 'P2025') return null
      return translate(err)
    }
  }

  /** Up to `take` keys matching `where`, by id, each after the id `after` (a scan's cursor). */
  async page (where: object, after: string | null, take: number): Promise<R[]> {
    try {
      const items = await this.#model.findMany({ where: after === null ? where : { AND: [where, { id: { gt: after } }] }, orderBy: { id: 'asc' }, take, ...this.#public })
      return items.map(withoutHmac)
    } catch (err) {
      return translate(err)
    }
  }

  /** Every key matching `where`, by id, `take` at a time; the last page may be empty. */
  async * pages (where: object, take: number): AsyncGenerator<R[]> {
    let batch: R[]
    let after: string | null = null
    do {
      batch = await this.page(where, after, take)
      after = batch.at(-1)?.id ?? null
      yield batch
    } while (batch.length === take)
  }

  /** Revokes every key matching `where` in one statement; how many it revoked. */
  async revokeWhere (where: object): Promise<number> {
    try {
      const { count } = await this.#model.updateMany({ where, data: this.#hmac ? { revoked: true, keyHmac: null } : { revoked: true } })
      return count
    } catch (err) {
      return translate(err)
    }
  }

  /** What a rotation starts from; null when no key has that id. */
  async secretOf (id: string): Promise<{ prefix: string, hashedKey: string, revoked: boolean } | null> {
    try {
      return await this.#model.findUnique({ where: { id }, select: { prefix: true, hashedKey: true, revoked: true } })
    } catch (err) {
      return translate(err)
    }
  }

  /**
   * Puts a new hash in place of `from`, which stays valid until `until`.
   * Compare-and-set: false when the key was rotated or revoked meanwhile.
   */
  async rotate (id: string, from: string, to: string, until: Date): Promise<boolean> {
    try {
      const { count } = await this.#model.updateMany({
        where: { id, hashedKey: from, revoked: false },
        data: { hashedKey: to, previousHashedKey: from, previousKeyExpiresAt: until, ...(this.#hmac ? { keyHmac: null } : {}) }
      })
      return count === 1
    } catch (err) {
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

  /** Replaces a hash only if it is still the one that was verified; with the pepper's HMAC for the new hash, if given. */
  async replaceHash (id: string, from: string, to: string, keyHmac?: string): Promise<void> {
    try {
      await this.#model.updateMany({ where: { id, hashedKey: from }, data: keyHmac === undefined ? { hashedKey: to } : { hashedKey: to, keyHmac } })
    } catch (err) {
      translate(err)
    }
  }

  /** Stores the pepper's HMAC for a key verified against `hashedKey`, only while that is still the key's hash and it is not revoked. */
  async storeHmac (id: string, hashedKey: string, keyHmac: string): Promise<void> {
    try {
      await this.#model.updateMany({ where: { id, hashedKey, revoked: false }, data: { keyHmac } })
    } catch (err) {
      translate(err)
    }
  }

  /** A key's credits now; null when no key has that id. */
  async creditsOf (id: string): Promise<CreditRow | null> {
    try {
      return await this.#model.findUnique({ where: { id }, select: CREDIT_COLUMNS })
    } catch (err) {
      return translate(err)
    }
  }

  /** Takes `count` credits if the key has that many: one conditional update, so the balance never goes below zero. */
  async takeCredits (id: string, count: number): Promise<boolean> {
    try {
      const { count: updated } = await this.#model.updateMany({ where: { id, credits: { gte: count } }, data: { credits: { decrement: count } } })
      return updated === 1
    } catch (err) {
      return translate(err)
    }
  }

  /** A refill, compare-and-set on what was read: false when another instance refilled or spent meanwhile. */
  async refillCredits (id: string, read: CreditRow, credits: number, at: Date): Promise<boolean> {
    try {
      const { count } = await this.#model.updateMany({
        where: { id, credits: read.credits, creditsRefilledAt: read.creditsRefilledAt },
        data: { credits, creditsRefilledAt: at }
      })
      return count === 1
    } catch (err) {
      return translate(err)
    }
  }

  /**
   * Gives back reserved credits, unless the key was refilled (or its credits
   * set) since they were reserved: a refill replaced them, and credits set
   * by hand are what the operator chose.
   */
  async returnCredits (id: string, count: number, anchor: Date | null): Promise<void> {
    try {
      await this.#model.updateMany({ where: { id, creditsRefilledAt: anchor, credits: { not: null, lte: MAX_CREDITS - count } }, data: { credits: { increment: count } } })
    } catch (err) {
      translate(err)
    }
  }

  /**
   * The plugin's startup check: one read (of no row), with the include, and
   * with a pepper one more, of keyHmac. A missing table or column means the
   * migrations were not applied; a validation error, an include naming no
   * relation, a model that is not a key model, or one without a column an
   * option needs (the pepper's, suspension's, ipAllowlist's, credits', importedKeys'); anything else, a store that
   * cannot answer (UNAVAILABLE).
   */
  async check (): Promise<void> {
    const read = async (args: object): Promise<unknown> => await this.#model.findUnique({ where: { prefix: '' }, ...args })
    await startupRead(read({ include: this.#include }), async (err) => {
      // Read again without the include to tell which of the two Prisma refused.
      const option = this.#include !== undefined && await read({}).then(() => true, () => false) ? 'include' : 'model'
      return new errors.INVALID_OPTION(option, reasonOf(err), { cause: err })
    })
    // Only now: the model passed, so a refusal of this read is about keyHmac alone.
    if (this.#hmac) {
      await startupRead(read({ select: { keyHmac: true } }), async (err) => new errors.INVALID_OPTION('pepper',
        'the model has no keyHmac column, where the pepper\'s HMACs are kept: add `keyHmac String?` to it and migrate (docs/custom-models.md), or leave pepper out', { cause: err }))
    }
    if (this.#suspension) {
      await startupRead(read({ select: { disabled: true } }), async (err) => new errors.INVALID_OPTION('suspension',
        'the model has no disabled column: add `disabled Boolean @default(false)` to it and migrate (docs/custom-models.md), or leave suspension out', { cause: err }))
    }
    if (this.#ipAllowlist) {
      await startupRead(read({ select: { allowedIps: true } }), async (err) => new errors.INVALID_OPTION('ipAllowlist',
        'the model has no allowedIps column: add `allowedIps String?` to it and migrate (docs/custom-models.md), or leave ipAllowlist out', { cause: err }))
    }
    if (this.#credits) {
      await startupRead(read({ select: CREDIT_COLUMNS }), async (err) => new errors.INVALID_OPTION('credits',
        'the model lacks a column of the credits feature: add `credits Int?`, `creditRefill String?` and `creditsRefilledAt DateTime?` to it and migrate (docs/custom-models.md), or leave credits out', { cause: err }))
    }
    if (this.#importedKeys) {
      await startupRead(read({ select: { importedFrom: true } }), async (err) => new errors.INVALID_OPTION('importedKeys',
        'the model has no importedFrom column: add `importedFrom String?` to it and migrate (docs/custom-models.md), or leave importedKeys out', { cause: err }))
    }
  }
}

/** A startup read's failure, by what it means: `refused` names the option Prisma refused. */
export async function startupRead (read: Promise<unknown>, refused: (err: unknown) => Promise<Error>): Promise<void> {
  try {
    await read
  } catch (err) {
    const { name, code } = err as { name?: unknown, code?: unknown }
    if (code === 'P2021' || code === 'P2022') throw new errors.NOT_MIGRATED(reasonOf(err), { cause: err })
    if (name !== 'PrismaClientValidationError') throw new errors.UNAVAILABLE({ cause: err })
    throw await refused(err)
  }
}

// Anything shaped like a stored hash, in case a reason quotes one: scrypt's,
// and those of imported keys (src/legacy-hash.ts).
const HASH_IN_TEXT = /\$scrypt\$[^\s"'`]*|\b(?:sha512\$\$|pbkdf2_sha256\$)[^\s"'`]*|\b[0-9a-f]{64}\b|(?<![\w-])[\w-]{43}(?![\w-])/g

// Prisma's own words, without the call site, code frame and arguments it
// prints before them (the last paragraph, less its code frame lines).
export function reasonOf (err: unknown): string {
  const message = String((err as { message?: unknown }).message)
  return message.slice(message.lastIndexOf('\n\n') + 1).split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*(→\s*)?\d+ /.test(line))
    .join(' ')
    .replace(' Available options are marked with ?.', '')
    .replace(HASH_IN_TEXT, '[hash]')
}
