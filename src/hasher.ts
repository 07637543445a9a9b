import { randomBytes } from 'node:crypto'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { errors } from './errors.js'
import { Piscina } from 'piscina'
import { parseLegacyHash, verifyLegacyHash } from './legacy-hash.js'
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
  /** the stored hash used other parameters than the current ones, or another scheme (an imported key's) */
  rehash: boolean
}

const NO_MATCH: VerifyOutcome = Object.freeze({ ok: false, rehash: false })

const workerFile = new URL('./hash-worker.js', import.meta.url).href

// How long recent hashes at the current parameters ran on their thread (queue
// time excluded): what a stand-in for a check holds its turn for (imitate).
const SAMPLES = 64
// Below this many samples, a stand-in runs a real hash (and adds a sample).
const MIN_SAMPLES = 8

// scrypt never runs on the event loop's thread: noble's scryptAsync yields, but
// several concurrent calls still starve network I/O, so hashing goes to a pool.
//
// Every hash takes a turn here, one per thread, first come first served:
// checks and their stand-ins (imitate) are admitted only while the checks
// running plus waiting stay within threads + maxQueue, and get a fast 503
// beyond; a new key's hash (create, rotate) is never refused, it waits its turn.
export class Hasher {
  readonly params: ScryptParams
  readonly #pool: Piscina<HashTask, Uint8Array>
  readonly #capacity: number
  #admitted = 0
  #free: number
  readonly #waiting: Array<() => void> = []
  readonly #samples: number[] = []
  #nextSample = 0

  constructor (params: ScryptParams, threads: number, maxQueue = Infinity) {
    this.params = params
    this.#capacity = threads + maxQueue
    this.#free = threads
    // execArgv: [] keeps the parent's TypeScript loaders out of the threads.
    this.#pool = new Piscina({ filename: workerFile, minThreads: 0, maxThreads: threads, idleTimeout: 30_000, execArgv: [] })
  }

  /** Runs `work` on a turn of its own; `admitted` work counts against the queue limit. */
  async #turn<T> (admitted: boolean, work: () => Promise<T>): Promise<T> {
    if (admitted) {
      // Refused before queueing: a fast 503 beats a request that waits behind hundreds of hashes.
      if (this.#admitted >= this.#capacity) throw new errors.BUSY()
      this.#admitted++
    }
    try {
      if (this.#free > 0) this.#free--
      else await new Promise<void>((resolve) => this.#waiting.push(resolve))
      try {
        return await work()
      } finally {
        // The turn passes straight to the next in line, or the thread is free.
        const next = this.#waiting.shift()
        if (next === undefined) this.#free++
        else next()
      }
    } finally {
      if (admitted) this.#admitted--
    }
  }

  async #derive (key: string, salt: Uint8Array, params: ScryptParams, dkLen: number): Promise<Uint8Array> {
    const started = performance.now()
    const derived = await this.#pool.run({ key, salt, ...params, dkLen })
    if (sameParams(params, this.params) && dkLen === HASH_BYTES) {
      this.#samples[this.#nextSample] = performance.now() - started
      this.#nextSample = (this.#nextSample + 1) % SAMPLES
    }
    return derived
  }

  async #hashNew (key: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES)
    return formatHash(this.params, salt, await this.#derive(key, salt, this.params, HASH_BYTES))
  }

  /** A new hash at the current parameters (create, rotate, re-hash): waits its turn, never refused. */
  async hash (key: string): Promise<string> {
    return await this.#turn(false, async () => await this.#hashNew(key))
  }

  /**
   * Checks a presented key against a stored hash; throws FST_API_KEY_BUSY when
   * the queue is full. With `legacy`, an imported key's hash (src/legacy-hash.ts)
   * is checked too, taking its turn like scrypt (a PBKDF2 can cost as much),
   * and a match asks for a re-hash; without it, such a hash never matches.
   */
  async verify (key: string, stored: string, legacy = false): Promise<VerifyOutcome> {
    const parsed = parseHash(stored)
    if (parsed === null) {
      const old = legacy ? parseLegacyHash(stored) : null
      if (old === null) return NO_MATCH
      const ok = await this.#turn(true, async () => await verifyLegacyHash(key, old))
      return { ok, rehash: ok }
    }
    const derived = await this.#turn(true, async () => await this.#derive(key, parsed.salt, parsed, parsed.hash.length))
    const ok = constantTimeEqual(derived, parsed.hash)
    return { ok, rehash: ok && !sameParams(parsed, this.params) }
  }

  /** Whether a stored hash was made with other parameters than the current ones, or is not scrypt's: re-hash it once the key is known. */
  outdated (stored: string): boolean {
    const parsed = parseHash(stored)
    return parsed === null || !sameParams(parsed, this.params)
  }

  /**
   * Stands in for a check that has no stored hash (an unknown prefix): admitted,
   * queued and answered like one, holding its turn as long as a recent hash ran,
   * so a backlog delays both alike. It sleeps rather than hashes, so made-up
   * prefixes cost a place in line but no CPU; the first few run a real hash to
   * measure what a check costs.
   */
  async imitate (key: string): Promise<void> {
    await this.#turn(true, async () => {
      if (this.#samples.length < MIN_SAMPLES) await this.#hashNew(key)
      else await waitFor(this.#samples[Math.floor(Math.random() * this.#samples.length)])
    })
  }

  close (): Promise<void> {
    return this.#pool.close()
  }
}

// A timer fires on a whole millisecond of the loop's clock, so a sleep of
// 13.3 ms ends anywhere from 12 to 14 ms later: enough to tell a stand-in from
// a hash at a few hundred samples. The last millisecond is waited a turn of
// the event loop at a time (I/O keeps flowing), to the sample's own length.
async function waitFor (ms: number): Promise<void> {
  const until = performance.now() + ms
  if (ms > 1) await sleep(ms - 1)
  while (performance.now() < until) await nextTurn()
}
