// The demo API: `npm start`. It migrates its database, creates a key, prints
// it once with a curl line, and serves an open route and protected ones.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import apiKeyPlugin, { apiKeyAdmin } from 'fastify-prisma-api-key'
import { openDemoDatabase } from './db.ts'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const { prisma, changeFeed, label } = await openDemoDatabase()

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
// audit: every change to a key is an event row, shown on its page in the panel.
await app.register(apiKeyPlugin, { model: prisma.apiKey, changeFeed, suspension: true, ipAllowlist: true, credits: true, audit: { model: prisma.apiKeyEvent } })

app.get('/', async () => ({ hello: 'world', try: 'GET /whoami with an API key' }))

app.get('/whoami', { config: { apiKey: true } }, async (request) => ({ apiKey: request.apiKey }))

// A metered route: a call spends 10 of the key's credits (keys without credits are unlimited).
app.get('/report', { config: { apiKey: { cost: 10 } } }, async (request) => ({ report: 'ok', creditsLeft: app.apiKeys.balance(request.apiKey!) }))

// A route-level permission: only keys whose name starts with "admin".
app.get('/admin-only', {
  config: { apiKey: { authorize: (apiKey) => apiKey.name.startsWith('admin') } }
}, async () => ({ secret: 42 }))

// The admin panel, behind the app's own guard: here HTTP basic auth as user
// "admin" with ADMIN_PASSWORD (a random one is made and printed if unset).
const adminPassword = process.env.ADMIN_PASSWORD ?? randomBytes(12).toString('base64url')
const expected = Buffer.from('Basic ' + Buffer.from(`admin:${adminPassword}`).toString('base64'))
// What it returns names who made a change, in the key's history.
async function adminGuard (request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
  const given = Buffer.from(request.headers.authorization ?? '')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    await reply.code(401).header('www-authenticate', 'Basic realm="api-keys admin"').send({ message: 'admin login required' })
    return
  }
  return 'admin'
}
await app.register(apiKeyAdmin, { prefix: '/admin/api-keys', guard: adminGuard, title: 'Demo API keys' })

app.addHook('onClose', async () => await prisma.$disconnect())

const { apiKey, key } = await app.apiKeys.create({ name: `demo ${new Date().toISOString()}` }, { actor: 'demo startup' })
const address = await app.listen({ port, host })

// Printed once: only its hash is stored, nobody can show it again.
console.log(`
Demo API on ${label}, listening at ${address}

A new API key was created: "${apiKey.name}" (prefix ${apiKey.prefix}).
It is shown only now; the database keeps only its scrypt hash:

  ${key}

Admin panel: ${address}/admin/api-keys/  (user admin, password ${process.env.ADMIN_PASSWORD === undefined ? adminPassword : 'from ADMIN_PASSWORD'})

Try it:

  curl -H 'Authorization: Api-Key ${key}' ${address}/whoami
  curl -i ${address}/whoami          # 401, no key
`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
