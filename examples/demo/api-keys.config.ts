// The CLI's config for the demo's database (./demo.db, or DATABASE_URL):
//   npm run cli -- create --name partner
// which runs: node dist/cli/main.js --config examples/demo/api-keys.config.ts create --name partner
import { openDemoDatabase } from './db.ts'

export default async function config () {
  const { prisma } = await openDemoDatabase()
  return { model: prisma.apiKey, suspension: true, ipAllowlist: true, credits: true, close: async () => await prisma.$disconnect() }
}
