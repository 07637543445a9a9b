import { Lru } from './lru.js'
import { previousWorks, sameHashes, type Hashes, type Row } from './row-cache.js'
import type { ApiKeyRecord } from './types.js'

/**
 * What checks of presented keys found, by the key's SHA-256 digest, so the
 * same key is never hashed twice against the same stored hash:
 * - a match counts only while the hash it matched is still one of the row's
 *   working secrets, so a rotation or re-hash forces a real check, and a
 *   wrong secret (another digest) never hits;
 * - a refusal counts only while the row still has the very hashes it was
 *   refused against (or, for an unknown prefix, still no row): a client
 *   replaying a leaked or rotated-out key costs no hash and spends no budget.
 * Both are bounded LRUs.
 */
export class SecretMemo {
  readonly #matched: Lru<string, string>
  readonly #refused: Lru<string, Hashes>

  constructor (size: number) {
    this.#matched = new Lru(size)
    this.#refused = new Lru(size)
  }

  matches (digest: string, row: Row<ApiKeyRecord>, now: number): boolean {
    const hash = this.#matched.get(digest)
    if (hash === undefined) return false
    return hash === row.hashedKey || (hash === row.previousHashedKey && previousWorks(row, now))
  }

  refusedBefore (digest: string, hashes: Hashes): boolean {
    const refused = this.#refused.get(digest)
    return refused !== undefined && sameHashes(refused, hashes)
  }

  match (digest: string, hash: string): void {
    this.#matched.set(digest, hash)
  }

  refuse (digest: string, hashes: Hashes): void {
    this.#refused.set(digest, { hashedKey: hashes.hashedKey, previousHashedKey: hashes.previousHashedKey })
  }
}
