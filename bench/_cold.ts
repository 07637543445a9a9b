import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createApiKeyManager } from '../src/index.ts'
import { createBenchDatabase, dropBenchDatabase, openBenchDatabase } from './database.ts'
import { startServer } from './server-process.ts'
const db = await createBenchDatabase('sqlite')
const { prisma, close } = await openBenchDatabase(db)
const m = createApiKeyManager({ model: prisma.apiKey, hashThreads: 2 })
const keys: string[] = []
for (let i = 0; i < 301; i++) keys.push((await m.create({ name: `k${i}` })).key)
await m.close(); await close()
const server = await startServer({ guard: 'api-key', database: db }, ['taskset', ['-c', '0', process.execPath, '--cpu-prof', '--cpu-prof-dir=/tmp/coldprof', '--import', 'tsx']])
await fetch(`${server.url}/protected`, { headers: { authorization: `Api-Key ${keys[0]}` } })
await new Promise((resolve) => setTimeout(resolve, 500))
await server.reset()
writeFileSync('/tmp/coldkeys.txt', keys.slice(1).join('\n'))
const child = spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', 'bench/burst.ts'], { env: { ...process.env, BENCH_BURST: JSON.stringify({ url: server.url, keysFile: '/tmp/coldkeys.txt', connections: 50, quietMs: 1000 }) }, stdio: ['ignore', 'inherit', 'inherit'] })
await new Promise((resolve) => child.once('exit', resolve))
console.log(JSON.stringify(await server.stats()))
await server.stop()
await dropBenchDatabase(db)
