// A Map kept in least-recently-used order, bounded in entries: a Map iterates
// in insertion order, so re-inserting on a hit moves an entry to the back and
// the first key is always the one to evict.
export class Lru<K, V> {
  readonly #max: number
  readonly #map = new Map<K, V>()

  constructor (max: number) {
    this.#max = max
  }

  get (key: K): V | undefined {
    const value = this.#map.get(key)
    if (value !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, value)
    }
    return value
  }

  set (key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K)
  }

  /** Replaces an entry's value, keeping its place. */
  replace (key: K, value: V): void {
    if (this.#map.has(key)) this.#map.set(key, value)
  }

  entries (): IterableIterator<[K, V]> {
    return this.#map.entries()
  }

  delete (key: K): void {
    this.#map.delete(key)
  }
}
