import { defineConfig, env } from 'prisma/config'

// For the Prisma CLI: npx prisma migrate deploy --config examples/organizations/prisma/postgresql/prisma.config.ts
export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: env('DATABASE_URL') }
})
