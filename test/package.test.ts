// What `npm pack` ships: the files the README and the guides tell a user to
// take from the package, and nothing that points at a file left out.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { packedFiles, ROOT } from './helpers/pack.ts'
import { readmeInstall } from './helpers/readme.ts'

const packed = packedFiles()
const shipped = new Set(packed)
const PROVIDERS = ['sqlite', 'postgresql', 'mysql']
const GUIDES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]

/** A file of the tarball, or a folder with files in it. */
const inTarball = (path: string): boolean => shipped.has(path) || packed.some((file) => file.startsWith(`${path.replace(/\/$/, '')}/`))

t.test('the tarball holds each database\'s schema, migrations and migration lock', async (t) => {
  for (const provider of PROVIDERS) {
    const migrations = readdirSync(join(ROOT, 'prisma', provider, 'migrations'), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(ROOT.length))
    t.ok(migrations.some((path) => path.endsWith('/migration.sql')), `${provider} has migrations in the repository`)
    t.ok(migrations.includes(`prisma/${provider}/migrations/migration_lock.toml`), `${provider} has a migration lock`)
    for (const path of [`prisma/${provider}/schema.prisma`, ...migrations]) t.ok(shipped.has(path), `${path} is in the tarball`)
  }
})

// A path is the package's when the text spells it from the app's
// node_modules (node_modules/fastify-prisma-api-key/…), or when it names one
// of the library's provider folders (prisma/sqlite/…), which no app has of its
// own (an app's are prisma/schema.prisma and prisma/migrations). An example
// app's folders (examples/organizations/prisma/…) are the repository's.
const END = String.raw`[^\s\`'")\]]*`
const PACKAGE_PATHS = [
  new RegExp(String.raw`node_modules/fastify-prisma-api-key/(${END})`, 'g'),
  new RegExp(String.raw`(?<![\w./-])(prisma/(?:sqlite|postgresql|mysql|<provider>)(?:/${END})?)`, 'g')
]

function packagePaths (text: string): string[] {
  const found = PACKAGE_PATHS.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1].replace(/[.,:;…]+$/, '')))
  return found.flatMap((path) => path.includes('<provider>') ? PROVIDERS.map((provider) => path.replace('<provider>', provider)) : [path])
}

t.test('every package path the README and the guides name is in the tarball', async (t) => {
  let count = 0
  for (const guide of GUIDES) {
    for (const path of packagePaths(readFileSync(join(ROOT, guide), 'utf8'))) {
      count++
      t.ok(inTarball(path), `${guide}: ${path} is in the tarball`)
    }
  }
  t.ok(count >= 6, `${count} package paths found`)
})

t.test('the path rule finds what it must and leaves the app\'s own paths alone', async (t) => {
  t.same(packagePaths('`npx prisma migrate deploy --config prisma/postgresql/prisma.config.ts`.'), ['prisma/postgresql/prisma.config.ts'])
  t.same(packagePaths('run `node node_modules/fastify-prisma-api-key/dist/cli/main.js …`'), ['dist/cli/main.js'])
  t.same(packagePaths('in `prisma/<provider>/migrations`.'), PROVIDERS.map((provider) => `prisma/${provider}/migrations`))
  t.same(packagePaths("`examples/organizations/prisma/mysql/migrations`, prisma/migrations, './src/generated/prisma/client.ts'"), [])
})

// The build's source maps point at src/, so src/ ships with them: users get
// stack traces (--enable-source-maps) and go-to-definition in TypeScript, and
// the suite's coverage of the CLI, which runs as the built bin in a child
// process, reaches src/cli/ through them. Dropping them would lose both.
t.test('nothing in the tarball points at a file left out of it', async (t) => {
  const maps = packed.filter((path) => path.endsWith('.map'))
  t.ok(maps.length > 0, 'the build has source maps')
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[] }
    for (const source of sources) {
      const path = join(map, '..', source)
      t.ok(shipped.has(path), `${map} -> ${path}`)
    }
  }
  for (const path of packed.filter((path) => /\.(js|d\.ts)$/.test(path))) {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(ROOT, path), 'utf8'))?.[1]
    if (url !== undefined) t.ok(shipped.has(join(path, '..', url)), `${path} -> ${url}`)
  }
})

// The built admin plugin (dist/admin/) reads its page's files from ../../assets/admin/.
t.test('the tarball holds the admin page\'s files', async (t) => {
  for (const name of ['index.html', 'app.css', 'app.js']) t.ok(shipped.has(`assets/admin/${name}`), `assets/admin/${name} is in the tarball`)
  t.ok(shipped.has('dist/admin/page.js'), 'beside the built plugin that reads them')
})

t.test('the tarball carries the license package.json names', async (t) => {
  const { license } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  t.equal(license, 'MIT')
  t.ok(shipped.has('LICENSE'), 'LICENSE is in the tarball')
  const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8')
  t.match(text, /^MIT License\n\nCopyright \(c\) 2026 fastify-prisma-api-key contributors\n/)
  t.match(text, /THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND/)
})

t.test('the README\'s install lines name what a user installs for each database', async (t) => {
  const names = readmeInstall(readFileSync(join(ROOT, 'README.md'), 'utf8')).map(({ name }) => name)
  for (const name of ['fastify-prisma-api-key', '@prisma/client', 'prisma']) t.ok(names.includes(name), name)
  const drivers = { '@prisma/adapter-better-sqlite3': 'better-sqlite3', '@prisma/adapter-pg': 'pg', '@prisma/adapter-mariadb': 'mariadb' }
  for (const [adapter, driver] of Object.entries(drivers)) t.ok(names.includes(adapter) && names.includes(driver), `${adapter} and ${driver}`)
})

// The README's compatibility table lists what .ci/run runs: the Node majors
// it fetches, the full suite on its LTS one, and the ranges package.json declares.
t.test('the README\'s compatibility table matches .ci/run and package.json', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8')
  const lts = /^LTS=(\d+)$/m.exec(ci)?.[1] as string
  const majors = (/^MAJORS=\((.*)\)$/m.exec(ci)?.[1] as string).replace('"$LTS"', lts).split(' ')
  const header = readme.indexOf('| Node.js | Prisma: CLI, client and driver adapters |')
  const lines = readme.slice(header).split('\n').slice(2)
  const rows = lines.slice(0, lines.findIndex((line) => !line.startsWith('| '))).map((line) => line.split(' | ').map((cell) => cell.replace(/^\| /, '')))
  t.ok(header !== -1 && rows.length >= 3, `${rows.length} rows`)
  t.same([...new Set(rows.flatMap(([node]) => node.split(', ')))].sort(), [...majors].sort(), 'the Node majors .ci/run fetches')
  t.same(rows.filter((row) => row.at(-1) === 'the whole test suite |').map(([node]) => node), [lts], 'the full suite on the LTS')
  const { engines, peerDependencies } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  t.ok(readme.includes(`Node.js \`${engines.node as string}\``), `engines ${engines.node as string}`)
  const peer = peerDependencies['@prisma/client'] as string
  t.ok(readme.includes(`\`@prisma/client\` \`${peer}\``), `peer ${peer}`)
  t.ok(rows.some(([, prisma]) => prisma.startsWith(`${peer.replace(/^\^/, '')}, the lowest the peer range admits`)), 'the smoke on the lowest Prisma the peer range admits')
})
