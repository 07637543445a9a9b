// Coverage counts the library's sources only (not the generated Prisma
// clients nor the test helpers), whichever test loads them; src/cli/ and
// other folders of src/ included.
import { readdirSync } from 'node:fs'

const sources = readdirSync(new URL('../src/', import.meta.url), { recursive: true, encoding: 'utf8' })
  .filter((name) => /\.[jt]s$/.test(name))
  .map((name) => `src/${name}`)

export default function coverageMap () {
  return sources
}
