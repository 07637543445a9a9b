// Every code example in the guides is run by a test: each ```ts, ```prisma
// and ```sql block must appear, word for word (whitespace aside), in a test,
// an example app (its code, schemas or migrations), a shipped schema or a shipped
// migration (which the tests apply). An edited example that no test runs fails here.
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'

const root = new URL('../', import.meta.url)
const GUIDES = ['docs/cli.md', 'docs/change-feed.md', 'docs/custom-models.md', 'docs/scopes.md', 'docs/rotation.md', 'docs/recipes.md', 'docs/admin.md', 'docs/security.md', 'docs/usage.md', 'docs/leaks.md', 'docs/lifecycle.md', 'docs/events.md', 'docs/migrating.md']
const TESTED_LANGUAGES = new Set(['ts', 'js', 'prisma', 'sql'])

const normalize = (text: string): string => text.replace(/\s+/g, ' ').trim()

function files (dir: string, pattern: RegExp): string[] {
  return readdirSync(new URL(dir, root), { recursive: true, encoding: 'utf8' })
    .filter((name) => pattern.test(name) && !name.includes('generated/') && !name.includes('node_modules/'))
    .map((name) => `${dir}${name}`)
}

const sources = [
  ...files('test/', /\.(ts|mjs)$/),
  ...files('examples/', /(\.ts|\.prisma|migration\.sql)$/),
  ...files('prisma/', /(schema\.prisma|migration\.sql)$/)
].filter((name) => name !== 'test/docs.test.ts')
const corpus = sources.map((name) => normalize(readFileSync(new URL(name, root), 'utf8')))

for (const guide of GUIDES) {
  t.test(guide, async (t) => {
    const text = readFileSync(new URL(guide, root), 'utf8')
    const blocks = [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)]
    t.ok(blocks.length > 0, 'has examples')
    for (const [, language, code] of blocks) {
      if (!TESTED_LANGUAGES.has(language)) continue
      const needle = normalize(code)
      const where = sources.filter((_, i) => corpus[i].includes(needle))
      t.ok(where.length > 0, `${code.split('\n')[0]} … is in ${where.join(', ') || 'no test'}`)
    }
  })
}

t.test('the tests name the guide examples they carry', async (t) => {
  // The markers make a test's doc examples visible to whoever edits it.
  const marked = sources.filter((_, i) => GUIDES.some((guide) => corpus[i].includes(`// ${guide}:`)))
  t.ok(marked.length >= 5, `${marked.length} files carry guide examples`)
})
