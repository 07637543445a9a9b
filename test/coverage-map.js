// Coverage counts the library's sources only (not the generated Prisma
// clients nor the test helpers), whichever test loads them.
import { readdirSync } from 'node:fs'

const sources = readdirSync(new URL('../src/', import.meta.url)).map((name) => `src/${name}`)

export default function coverageMap () {
  return sources
}
