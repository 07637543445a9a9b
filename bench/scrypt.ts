// Cost of one scrypt hash at several parameter sets, through the library's
// worker pool, and how long warming 10,000 keys would take after a restart.
// Run: npm run bench:scrypt [-- --count 20]
import { scryptSync } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { Hasher } from '../src/hasher.ts'
import type { ScryptParams } from '../src/hash-format.ts'

const { values } = parseArgs({ options: { count: { type: 'string', default: '12' } } })
const count = Number(values.count)
const sets: ScryptParams[] = [{ ln: 12, r: 8, p: 1 }, { ln: 14, r: 8, p: 1 }, { ln: 15, r: 8, p: 1 }]
const cores = availableParallelism()

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

console.log(`scrypt cost, ${count} hashes per row, ${cores} cores, Node ${process.version}`)
console.log('| params | memory | noble in 1 worker, median ms | noble, all cores, hashes/s | Node native, median ms | warm 10,000 keys, all cores |')
console.log('|---|---|---|---|---|---|')
for (const params of sets) {
  const single = new Hasher(params, 1)
  await single.hash('warm-up')
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const start = performance.now()
    await single.hash(`key-${i}`)
    times.push(performance.now() - start)
  }
  await single.close()

  const pool = new Hasher(params, cores)
  await Promise.all(Array.from({ length: cores }, async () => await pool.hash('warm-up')))
  const start = performance.now()
  await Promise.all(Array.from({ length: count * cores }, async (_, i) => await pool.hash(`key-${i}`)))
  const perSecond = (count * cores) / ((performance.now() - start) / 1000)
  await pool.close()

  const native: number[] = []
  for (let i = 0; i < count; i++) {
    const s = performance.now()
    scryptSync(`key-${i}`, 'saltsaltsaltsalt', 32, { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: 256 * 1024 * 1024 })
    native.push(performance.now() - s)
  }
  const mib = (128 * params.r * 2 ** params.ln) / 2 ** 20
  console.log(`| ln=${params.ln},r=${params.r},p=${params.p} | ${mib} MiB | ${median(times).toFixed(1)} | ${perSecond.toFixed(1)} | ${median(native).toFixed(1)} | ${(10_000 / perSecond).toFixed(0)} s |`)
}
