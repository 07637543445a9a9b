// Generates the Prisma clients of the committed schemas, the library's three
// and the organizations example's three (used by the tests, the demo and the
// examples; the library itself imports no client). `node prisma/generate.mjs
// sqlite` generates one provider's.
//
// `prisma generate` never runs the schema engine but checks that its binary
// exists, and would download it where none is installed. Offline (as in CI),
// point PRISMA_SCHEMA_ENGINE_BINARY at offline-engine.sh, which fails loudly if
// anything ever does try to run it: `migrate` then exits 1 instead of pretending.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const env = { ...process.env }
env.PRISMA_SCHEMA_ENGINE_BINARY ??= here('./offline-engine.sh')
env.PRISMA_HIDE_UPDATE_MESSAGE = '1'

const providers = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['sqlite', 'postgresql', 'mysql']
for (const dir of ['./', '../examples/organizations/prisma/']) {
  for (const provider of providers) {
    execFileSync('npx', ['--no-install', 'prisma', 'generate', '--schema', here(`${dir}${provider}/schema.prisma`)], { env, stdio: 'inherit' })
  }
}
