// The admin page: one HTML shell, one stylesheet, one script, no build step.
// The script renders every value with textContent, never as markup, so a key
// name holding HTML stays text; the CSP (plugin.ts) forbids inline script too.

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

export function page (title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header>
  <h1>${escapeHtml(title)}</h1>
  <button id="new" type="button" class="primary">New key</button>
</header>
<main>
  <section class="toolbar">
    <input id="search" type="search" placeholder="Search by name or prefix" aria-label="Search by name or prefix">
    <select id="status" aria-label="Status">
      <option value="">All statuses</option>
      <option value="active">Active</option>
      <option value="expired">Expired</option>
      <option value="revoked">Revoked</option>
    </select>
  </section>
  <p id="error" class="error" role="alert" hidden></p>
  <table>
    <thead><tr id="head"><th>Name</th><th>Prefix</th><th>Status</th><th>Scopes</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead>
    <tbody id="rows"></tbody>
  </table>
  <nav class="pager">
    <button id="prev" type="button">Previous</button>
    <span id="range"></span>
    <button id="next" type="button">Next</button>
  </nav>
</main>

<dialog id="create-dialog">
  <form id="create-form" method="dialog">
    <h2>New API key</h2>
    <label>Name <input id="create-name" name="name" required maxlength="190" autocomplete="off"></label>
    <label>Expires (optional) <input id="create-expires" name="expiresAt" type="date">
      <small>The key works through that day, in UTC, as with the CLI's <code>--expires</code>.</small></label>
    <label>Scopes (optional) <input id="create-scopes" name="scopes" autocomplete="off" spellcheck="false" placeholder="orders:read, orders:write">
      <small>Separated by spaces or commas. <code>orders:*</code> grants every orders scope, <code>*</code> all of them.</small></label>
    <p id="create-error" class="error" role="alert" hidden></p>
    <div class="actions"><button type="button" id="create-cancel">Cancel</button><button type="submit" class="primary">Create key</button></div>
  </form>
</dialog>

<dialog id="key-dialog">
  <h2>Copy the new key now</h2>
  <p class="warning">This is the only time the key is shown. It is not stored and cannot be shown again.</p>
  <div class="secret"><code id="new-key"></code><button id="copy" type="button">Copy</button></div>
  <p id="key-note" hidden></p>
  <div class="actions"><button id="key-done" type="button" class="primary">I have stored it</button></div>
</dialog>

<dialog id="detail-dialog">
  <h2 id="detail-title"></h2>
  <dl id="detail"></dl>
  <div class="actions"><button id="detail-rotate" type="button">Rotate…</button><button id="detail-revoke" type="button" class="danger">Revoke…</button><button id="detail-close" type="button">Close</button></div>
</dialog>

<dialog id="rotate-dialog">
  <form id="rotate-form" method="dialog">
    <h2>Rotate <span id="rotate-name"></span></h2>
    <p>The key gets a new secret, shown once; it keeps its id, name, prefix and scopes.</p>
    <label>The current secret keeps working
      <select id="rotate-grace">
        <option value="0">No, it stops now</option>
        <option value="3600000">for 1 hour</option>
        <option value="86400000">for 24 hours</option>
        <option value="604800000">for 7 days</option>
      </select></label>
    <p id="rotate-effect" class="warning"></p>
    <p id="rotate-error" class="error" role="alert" hidden></p>
    <div class="actions"><button type="button" id="rotate-cancel">Cancel</button><button type="submit" class="danger">Rotate key</button></div>
  </form>
</dialog>
</body>
</html>
`
}

const css = `
:root { color-scheme: light dark; --fg: #1d232b; --muted: #5d6b7a; --bg: #f6f7f9; --card: #fff; --line: #dde2e8;
  --accent: #2457c5; --danger: #b42318; --ok: #067647; --warn: #b54708; font: 15px/1.45 system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ee; --muted: #9aa6b2; --bg: #14181d; --card: #1c2128; --line: #2d343d; --accent: #6d9cff; } }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; justify-content: space-between; padding: 18px 28px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0; }
main { padding: 20px 28px; max-width: 1200px; }
.toolbar { display: flex; gap: 10px; margin-bottom: 14px; }
input, select, button { font: inherit; padding: 7px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); color: var(--fg); }
#search { flex: 1; max-width: 380px; }
button { cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--danger); border-color: var(--danger); }
button:disabled { opacity: .5; cursor: default; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 9px 12px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td.name { white-space: normal; word-break: break-word; max-width: 320px; }
tbody tr:hover { background: color-mix(in srgb, var(--accent) 6%, transparent); cursor: pointer; }
code { font: 13px ui-monospace, monospace; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.badge.active { color: var(--ok); background: color-mix(in srgb, var(--ok) 14%, transparent); }
.badge.expired { color: var(--warn); background: color-mix(in srgb, var(--warn) 14%, transparent); }
.badge.revoked { color: var(--danger); background: color-mix(in srgb, var(--danger) 14%, transparent); }
.pager { display: flex; gap: 12px; align-items: center; justify-content: flex-end; margin-top: 12px; color: var(--muted); }
.error { color: var(--danger); }
.empty { text-align: center; color: var(--muted); padding: 28px; }
dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: var(--fg); padding: 22px 26px; min-width: 380px; max-width: 640px; }
dialog::backdrop { background: rgb(0 0 0 / .35); }
dialog h2 { margin-top: 0; font-size: 18px; }
dialog label { display: block; margin: 12px 0; }
dialog label input, dialog label select { display: block; width: 100%; box-sizing: border-box; margin-top: 4px; }
dialog small { display: block; margin-top: 4px; color: var(--muted); }
td.scopes { max-width: 240px; overflow: hidden; text-overflow: ellipsis; }
.scope { display: inline-block; margin-right: 4px; padding: 0 6px; border: 1px solid var(--line); border-radius: 4px; }
.actions { display: flex; gap: 10px; justify-content: flex-end; margin-top: 18px; }
.warning { color: var(--warn); font-weight: 600; }
.secret { display: flex; gap: 8px; align-items: center; padding: 10px; border: 1px dashed var(--line); border-radius: 6px; }
.secret code { flex: 1; word-break: break-all; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-word; }
`

const js = `'use strict'
const $ = (id) => document.getElementById(id)
const state = { page: 1, pageSize: 25, search: '', status: '', meta: null, total: 0, current: null }

async function api (path, options = {}) {
  const response = await fetch('api/' + path, {
    ...options,
    headers: { 'x-api-key-admin': '1', ...(options.body ? { 'content-type': 'application/json' } : {}) },
    credentials: 'same-origin'
  })
  const body = await response.json().catch(() => ({}))
  if (!response.ok) throw new Error(body.message || response.statusText)
  return body
}

function cell (row, text, className) {
  const td = document.createElement('td')
  td.textContent = text
  if (className) td.className = className
  row.append(td)
  return td
}

const day = (value) => value ? new Date(value).toLocaleDateString() : '—'
const time = (value) => value ? new Date(value).toLocaleString() : '—'

function badge (status) {
  const span = document.createElement('span')
  span.className = 'badge ' + status
  span.textContent = status
  return span
}

// Stored space-separated: one chip each, the whole list in the tooltip.
function scopes (td, stored) {
  if (!stored) {
    td.textContent = '—'
    return
  }
  td.title = stored
  for (const scope of stored.split(' ')) {
    const code = document.createElement('code')
    code.className = 'scope'
    code.textContent = scope
    td.append(code)
  }
}

function showError (id, error) {
  const p = $(id)
  p.textContent = error ? String(error.message || error) : ''
  p.hidden = !error
}

async function load () {
  const query = new URLSearchParams({ page: state.page, pageSize: state.pageSize, search: state.search, status: state.status })
  try {
    const data = await api('keys?' + query)
    state.total = data.total
    render(data.items)
    showError('error', null)
  } catch (error) {
    showError('error', error)
  }
}

function render (items) {
  const rows = $('rows')
  rows.replaceChildren()
  const width = 8 + state.meta.columns.length
  if (items.length === 0) {
    const row = rows.insertRow()
    const td = cell(row, state.search || state.status ? 'No key matches.' : 'No keys yet: create the first one.', 'empty')
    td.colSpan = width
  }
  for (const key of items) {
    const row = rows.insertRow()
    row.dataset.id = key.id
    cell(row, key.name, 'name')
    const prefix = document.createElement('code')
    prefix.textContent = key.prefix
    cell(row, '').append(prefix)
    cell(row, '').append(badge(key.status))
    scopes(cell(row, '', 'scopes'), key.scopes)
    cell(row, day(key.createdAt))
    cell(row, day(key.expiresAt))
    cell(row, time(key.lastUsedAt))
    for (const value of key.columns) cell(row, value == null ? '—' : String(value))
    const actions = cell(row, '')
    if (key.status !== 'revoked') {
      const button = document.createElement('button')
      button.type = 'button'
      button.className = 'danger'
      button.textContent = 'Revoke'
      button.addEventListener('click', (event) => { event.stopPropagation(); revoke(key) })
      actions.append(button)
    }
    row.addEventListener('click', () => details(key))
  }
  const first = state.total === 0 ? 0 : (state.page - 1) * state.pageSize + 1
  $('range').textContent = first + '–' + Math.min(state.page * state.pageSize, state.total) + ' of ' + state.total
  $('prev').disabled = state.page === 1
  $('next').disabled = state.page * state.pageSize >= state.total
}

async function revoke (key) {
  // The panel's manager forgets the key at once; other instances only once their cached copy expires.
  if (!confirm('Revoke "' + key.name + '" (' + key.prefix + ')? It is refused at once here; other instances of the app may accept it ' +
    'until their cached copy expires (their cacheTtl option, 5 seconds by default). This cannot be undone.')) return
  try {
    await api('keys/' + encodeURIComponent(key.id) + '/revoke', { method: 'POST', body: '{}' })
    $('detail-dialog').close()
    await load()
  } catch (error) {
    showError('error', error)
  }
}

function details (key) {
  state.current = key
  $('detail-title').textContent = key.name
  const list = $('detail')
  list.replaceChildren()
  const fields = [['Name', key.name], ['Prefix', key.prefix], ['Status', key.status], ['Id', key.id], ['Created', time(key.createdAt)],
    ['Expires', time(key.expiresAt)], ['Last used', time(key.lastUsedAt)], ['Scopes', key.scopes ? key.scopes.split(' ').join(', ') : 'none']]
  // A rotation's grace period: only worth a line while the old secret still works.
  if (key.status === 'active' && new Date(key.previousKeyExpiresAt) > new Date()) {
    fields.push(['Old secret', 'works until ' + time(key.previousKeyExpiresAt)])
  }
  state.meta.columns.forEach((label, i) => fields.push([label, key.columns[i] == null ? '—' : String(key.columns[i])]))
  for (const [label, value] of fields) {
    const dt = document.createElement('dt')
    dt.textContent = label
    const dd = document.createElement('dd')
    dd.textContent = value
    list.append(dt, dd)
  }
  $('detail-revoke').hidden = key.status === 'revoked'
  // A revoked key cannot be rotated; an expired one would get a secret that is refused too.
  $('detail-rotate').hidden = key.status !== 'active'
  $('detail-dialog').showModal()
}

function showNewKey (key, note) {
  $('new-key').textContent = key
  $('copy').textContent = 'Copy'
  $('key-note').textContent = note || ''
  $('key-note').hidden = !note
  $('key-dialog').showModal()
}

function rotateEffect () {
  const select = $('rotate-grace')
  $('rotate-effect').textContent = select.value === '0'
    ? 'Clients still using the current secret are refused from now on.'
    : 'Clients have ' + select.selectedOptions[0].textContent.replace('for ', '') + ' to switch to the new key; then the current secret stops working.'
}

function openRotate () {
  const key = state.current
  $('rotate-name').textContent = '"' + key.name + '" (' + key.prefix + ')'
  $('rotate-form').reset()
  rotateEffect()
  showError('rotate-error', null)
  $('detail-dialog').close()
  $('rotate-dialog').showModal()
}

async function rotate (event) {
  event.preventDefault()
  const key = state.current
  try {
    const rotated = await api('keys/' + encodeURIComponent(key.id) + '/rotate', { method: 'POST', body: JSON.stringify({ gracePeriod: Number($('rotate-grace').value) }) })
    $('rotate-dialog').close()
    const until = rotated.apiKey.previousKeyExpiresAt
    showNewKey(rotated.key, $('rotate-grace').value === '0' ? 'The old secret no longer works.' : 'The old secret keeps working until ' + time(until) + '.')
    await load()
  } catch (error) {
    showError('rotate-error', error)
  }
}

async function create (event) {
  event.preventDefault()
  const name = $('create-name').value.trim()
  const expires = $('create-expires').value
  const scopes = $('create-scopes').value.split(/[\\s,]+/).filter(Boolean)
  try {
    // The date as typed: the server reads it, as the CLI does, whatever this browser's time zone.
    const { key } = await api('keys', { method: 'POST', body: JSON.stringify({ name, expiresAt: expires || null, scopes }) })
    $('create-dialog').close()
    $('create-form').reset()
    showNewKey(key)
    state.page = 1
    await load()
  } catch (error) {
    showError('create-error', error)
  }
}

async function init () {
  state.meta = await api('meta')
  for (const label of state.meta.columns) {
    const th = document.createElement('th')
    th.textContent = label
    $('head').insertBefore(th, $('head').lastElementChild)
  }
  $('new').addEventListener('click', () => { showError('create-error', null); $('create-dialog').showModal() })
  $('create-cancel').addEventListener('click', () => $('create-dialog').close())
  $('create-form').addEventListener('submit', create)
  $('create-form').addEventListener('input', () => showError('create-error', null))
  $('copy').addEventListener('click', async () => {
    await navigator.clipboard.writeText($('new-key').textContent)
    $('copy').textContent = 'Copied'
  })
  // Closing the dialog drops the only copy the page holds.
  $('key-dialog').addEventListener('close', () => { $('new-key').textContent = '' })
  $('key-done').addEventListener('click', () => $('key-dialog').close())
  $('detail-close').addEventListener('click', () => $('detail-dialog').close())
  $('detail-revoke').addEventListener('click', () => revoke(state.current))
  $('detail-rotate').addEventListener('click', openRotate)
  $('rotate-grace').addEventListener('change', rotateEffect)
  $('rotate-cancel').addEventListener('click', () => $('rotate-dialog').close())
  $('rotate-form').addEventListener('submit', rotate)
  let timer
  $('search').addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(() => { state.search = $('search').value.trim(); state.page = 1; load() }, 200)
  })
  $('status').addEventListener('change', () => { state.status = $('status').value; state.page = 1; load() })
  $('prev').addEventListener('click', () => { state.page--; load() })
  $('next').addEventListener('click', () => { state.page++; load() })
  await load()
}

init().catch((error) => showError('error', error))
`

export const ASSETS: Record<string, { type: string, body: string }> = {
  'app.css': { type: 'text/css; charset=utf-8', body: css },
  'app.js': { type: 'text/javascript; charset=utf-8', body: js }
}
