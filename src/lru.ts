// A Map bounded in entries, evicting by "second chance" (CLOCK), an
// approximation of least-recently-used: a hit only marks its entry, so the hot
// path never moves anything; on eviction, marked entries at the front (the
// oldest) are unmarked and moved to the back, and the first unmarked one goes.
// A Map iterates in insertion order, so the front is the oldest.
interface Entry<V> { value: V, used: boolean }

export class Lru<K, V> {
  readonly #max: number
  readonly #map = new Map<K, Entry<V>>()

  constructor (max: number) {
    this.#max = max
  }

  get (key: K): V | undefined {
    const entry = this.#map.get(key)
    if (entry === undefined) return undefined
    entry.used = true
    return entry.value
  }

  set (key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, { value, used: false })
    if (this.#map.size > this.#max) this.#evict()
  }

  /** Replaces an entry's value, keeping its place. */
  replace (key: K, value: V): void {
    const entry = this.#map.get(key)
    if (entry !== undefined) entry.value = value
  }

  * entries (): IterableIterator<[K, V]> {
    for (const [key, entry] of this.#map) yield [key, entry.value]
  }

  delete (key: K): void {
    this.#map.delete(key)
  }

  // Ends within one pass: every entry it moves back is unmarked.
  #evict (): void {
    for (;;) {
      const [key, entry] = this.#map.entries().next().value as [K, Entry<V>]
      this.#map.delete(key)
      if (!entry.used) return
      entry.used = false
      this.#map.set(key, entry)
    }
  }
}
