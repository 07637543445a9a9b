// The organizations example: `npx tsx examples/organizations/server.ts`.
// It migrates its database if needed, creates an organization and a key
// that may read orders but not write them, prints the key once, and serves.
import { buildApp } from './app.ts'
import { openOrganizationsDatabase } from './db.ts'

const port = Number(process.env.PORT ?? 3001)
const host = process.env.HOST ?? '127.0.0.1'
const { prisma, changeFeed, label } = await openOrganizationsDatabase()

const app = await buildApp(prisma, { changeFeed, logger: { level: process.env.LOG_LEVEL ?? 'info' } })
app.addHook('onClose', async () => await prisma.$disconnect())

const organization = await prisma.organization.findFirst({ where: { name: 'Acme' } }) ??
  await prisma.organization.create({ data: { name: 'Acme' } })
const { apiKey, key } = await app.apiKeys.create({
  name: `orders reader ${new Date().toISOString()}`,
  organizationId: organization.id,
  scopes: ['orders:read']
})
const address = await app.listen({ port, host })

// Printed once: only its hash is stored, nobody can show it again.
console.log(`
Organizations example on ${label}, listening at ${address}

A new API key of organization "${organization.name}" was created: "${apiKey.name}"
(prefix ${apiKey.prefix}, scopes: ${apiKey.scopes}). It is shown only now:

  KEY='${key}'

Try it:

  curl -H "Authorization: Api-Key $KEY" ${address}/me
  curl -H "Authorization: Api-Key $KEY" ${address}/orders
  curl -i -X POST -H "Authorization: Api-Key $KEY" ${address}/orders   # 403: the key lacks orders:write
`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
