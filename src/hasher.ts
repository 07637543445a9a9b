import { randomBytes } from 'node:crypto'
import { errors } from './errors.js'
import { Piscina } from 'piscina'
import {
  constantTimeEqual, formatHash, HASH_BYTES, parseHash, SALT_BYTES, sameParams, type ScryptParams
} from './hash-format.js'

interface HashTask extends ScryptParams {
  key: string
  salt: Uint8Array
  dkLen: number
}

export interface VerifyOutcome {
  ok: boolean
  /** the stored hash used other parameters than the current ones */
  rehash: boolean
}

const workerFile = new URL('./hash-worker.js', import.meta.url).href

// scrypt never runs on the event loop's thread: noble's scryptAsync yields, but
// several concurrent calls still starve network I/O, so hashing goes to a pool.
export class Hasher {
  readonly params: ScryptParams
  readonly #pool: Piscina<HashTask, Uint8Array>
  // Checks running plus waiting: one per thread, and up to maxQueue behind
  // them. Only checks count: they answer requests and must fail fast when the
  // pool is swamped; a new key's hash (create, rotate) waits its turn instead.
  readonly #capacity: number
  #inFlight = 0

  constructor (params: ScryptParams, threads: number, maxQueue = Infinity) {
    this.params = params
    this.#capacity = threads + maxQueue
    // execArgv: [] keeps the parent's TypeScript loaders out of the threads.
    this.#pool = new Piscina({ filename: workerFile, minThreads: 0, maxThreads: threads, idleTimeout: 30_000, execArgv: [] })
  }

  async #derive (key: string, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> {
    return await this.#pool.run({ key, salt, ...params, dkLen })
  }

  async #check (key: string, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> {
    // Refused before queueing when the queue is full: a fast 503 beats a
    // request that waits behind hundreds of hashes.
    if (this.#inFlight >= this.#capacity) throw new errors.BUSY()
    this.#inFlight++
    try {
      return await this.#derive(key, salt, params, dkLen)
    } finally {
      this.#inFlight--
    }
  }

  async hash (key: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES)
    return formatHash(this.params, salt, await this.#derive(key, salt, this.params, HASH_BYTES))
  }

  async verify (key: string, stored: string): Promise<VerifyOutcome> {
    const parsed = parseHash(stored)
    if (parsed === null) return { ok: false, rehash: false }
    const derived = await this.#check(key, parsed.salt, parsed, parsed.hash.length)
    const ok = constantTimeEqual(derived, parsed.hash)
    return { ok, rehash: ok && !sameParams(parsed, this.params) }
  }

  close (): Promise<void> {
    return this.#pool.close()
  }
}
