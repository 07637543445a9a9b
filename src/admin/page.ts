import { readFile } from 'node:fs/promises'
import { CSRF_HEADER } from './csrf.js'

// The page's files: assets/admin/ at the package's root, two folders up from
// this module whether it runs as src/admin/page.ts or as dist/admin/page.js.
const ASSETS = new URL('../../assets/admin/', import.meta.url)

const TYPES = { 'app.css': 'text/css; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8' }

interface PanelFiles {
  html: string
  assets: Array<{ name: string, type: string, body: string }>
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The shell with its title and the CSRF header's name, and the assets, read once. */
export async function readPanel (title: string): Promise<PanelFiles> {
  const read = async (name: string): Promise<string> => await readFile(new URL(name, ASSETS), 'utf8')
  // One pass: a title holding "{{csrfHeader}}" stays that text.
  const fields: Record<string, string> = { title: escapeHtml(title), csrfHeader: CSRF_HEADER }
  const html = (await read('index.html')).replace(/\{\{(\w+)\}\}/g, (_, name: string) => fields[name])
  const assets = await Promise.all(Object.entries(TYPES).map(async ([name, type]) => ({ name, type, body: await read(name) })))
  return { html, assets }
}
