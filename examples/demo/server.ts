// The demo API: `npm start`. It migrates its database, creates a key, prints
// it once with a curl line, and serves an open route and protected ones.
import Fastify from 'fastify'
import apiKeyPlugin from 'fastify-prisma-api-key'
import { openDemoDatabase } from './db.ts'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const { prisma, label } = await openDemoDatabase()

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
await app.register(apiKeyPlugin, { model: prisma.apiKey })

app.get('/', async () => ({ hello: 'world', try: 'GET /whoami with an API key' }))

app.get('/whoami', { config: { apiKey: true } }, async (request) => ({ apiKey: request.apiKey }))

// A route-level permission: only keys whose name starts with "admin".
app.get('/admin-only', {
  config: { apiKey: { authorize: (apiKey) => apiKey.name.startsWith('admin') } }
}, async () => ({ secret: 42 }))

app.addHook('onClose', async () => await prisma.$disconnect())

const { apiKey, key } = await app.apiKeys.create({ name: `demo ${new Date().toISOString()}` })
const address = await app.listen({ port, host })

// Printed once: only its hash is stored, nobody can show it again.
console.log(`
Demo API on ${label}, listening at ${address}

A new API key was created: "${apiKey.name}" (prefix ${apiKey.prefix}).
It is shown only now; the database keeps only its scrypt hash:

  ${key}

Try it:

  curl -H 'Authorization: Api-Key ${key}' ${address}/whoami
  curl -i ${address}/whoami          # 401, no key
`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
