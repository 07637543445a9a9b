// A Map kept in least-recently-used order, bounded in entries: a Map iterates
// in insertion order, so re-inserting on a hit moves an entry to the back and
// the first key is always the one to evict.
export class Lru<K, V> {
  readonly #max: number
  readonly #map = new Map<K, V>()

  constructor (max: number) {
    this.#max = max
  }

  get size (): number {
    return this.#map.size
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

  delete (key: K): void {
    this.#map.delete(key)
  }

  clear (): void {
    this.#map.clear()
  }
}
