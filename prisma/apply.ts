// Applies the committed migrations through the database driver, for tests and
// the demo on machines where Prisma's schema engine cannot be downloaded.
// Users with network access run `prisma migrate deploy` on the same files.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export type Provider = 'sqlite' | 'postgresql' | 'mysql'

export function migrationScripts (provider: Provider, dir = fileURLToPath(new URL(`./${provider}/migrations/`, import.meta.url))): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => readFileSync(`${dir}/${name}/migration.sql`, 'utf8'))
}
