import { openBenchDatabase, createBenchDatabase, dropBenchDatabase } from './database.ts'
import { createApiKeyManager } from '../src/index.ts'
const db = await createBenchDatabase('sqlite')
const { prisma, close } = await openBenchDatabase(db)
const m = createApiKeyManager({ model: prisma.apiKey, scrypt: { ln: 10 } })
const keys: string[] = []
for (let i = 0; i < Number(process.argv[2] ?? 1); i++) keys.push((await m.create({ name: 'x' + i })).key)
for (const k of keys) await m.verify(k)
for (let r = 0; r < 5; r++) {
  const n = 2_000_000
  const t0 = process.hrtime.bigint()
  let ok = 0
  for (let i = 0; i < n; i++) if (m.verifyCached(keys[i % keys.length])?.valid === true) ok++
  const t1 = process.hrtime.bigint()
  console.log(`${(Number(t1 - t0) / n).toFixed(0)} ns/check ok=${ok}`)
}
await m.close(); await close(); await dropBenchDatabase(db)
