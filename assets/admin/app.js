// @ts-check
// The admin page's script: a module, served by the plugin as it is here (no
// build step), type-checked against the DOM (test/tsconfig.browser.json).
// Every value is rendered with textContent, never as markup, so a key name
// holding HTML stays text; the page's CSP forbids inline script too.

/**
 * @typedef {{ title: string, columns: string[], statuses: string[], pageSizes: number[], suspension: boolean, ipAllowlist: boolean, credits: boolean, usage: boolean, audit: boolean }} Meta
 * @typedef {{ id: string, name: string, prefix: string, status: string, scopes: string, createdAt: string,
 *   expiresAt: string | null, lastUsedAt: string | null, previousKeyExpiresAt: string | null, disabled?: boolean, allowedIps?: string | null,
 *   credits?: number | null, creditRefill?: string | null,
 *   columns: Array<string | number | boolean | null> }} Key
 * @typedef {{ items: Key[], total: number, page: number, pageSize: number }} KeyPage
 * @typedef {{ apiKey: Key, key: string }} NewKey
 * @typedef {{ id: number, type: string, actor: string | null, changes: Record<string, { from: unknown, to: unknown }> | null, details: Record<string, unknown> | null, at: string }} KeyEvent
 */

/**
 * The element with this id, of the type the page's HTML gives it.
 * @template {Element} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function element (id, type) {
  const found = document.getElementById(id)
  if (!(found instanceof type)) throw new Error(`#${id} is not a ${type.name}`)
  return found
}
/** @param {string} id */
const $ = (id) => element(id, HTMLElement)
/** @param {string} id */
const input = (id) => element(id, HTMLInputElement)
/** @param {string} id */
const select = (id) => element(id, HTMLSelectElement)
/** @param {string} id */
const dialog = (id) => element(id, HTMLDialogElement)
/** @param {string} id */
const button = (id) => element(id, HTMLButtonElement)
/** @param {string} id */
const form = (id) => element(id, HTMLFormElement)

// The page size is the API's until one is chosen: the first answer says which.
/** @type {{ page: number, pageSize: number | null, search: string, status: string, meta: Meta, total: number, current: Key | null }} */
const state = { page: 1, pageSize: null, search: '', status: '', meta: { title: '', columns: [], statuses: [], pageSizes: [], suspension: false, ipAllowlist: false, credits: false, usage: false, audit: false }, total: 0, current: null }

// The plugin writes the name of its CSRF header into the page (src/admin/csrf.ts).
const CSRF_HEADER = document.body.dataset.csrfHeader ?? ''

/**
 * @param {string} path
 * @param {{ method?: string, body?: string }} [options]
 * @returns {Promise<any>}
 */
async function api (path, options = {}) {
  const response = await fetch('api/' + path, {
    ...options,
    headers: { [CSRF_HEADER]: '1', ...(options.body ? { 'content-type': 'application/json' } : {}) },
    credentials: 'same-origin'
  })
  const body = await response.json().catch(() => ({}))
  if (!response.ok) throw new Error(body.message || response.statusText)
  return body
}

/**
 * @param {HTMLTableRowElement} row
 * @param {string} text
 * @param {string} [className]
 */
function cell (row, text, className) {
  const td = row.insertCell()
  td.textContent = text
  if (className) td.className = className
  return td
}

/** @param {string | null} value */
const day = (value) => value ? new Date(value).toLocaleDateString() : '—'
/** @param {string | null} value */
const time = (value) => value ? new Date(value).toLocaleString() : '—'
/** @param {string | number | boolean | null | undefined} value */
const shown = (value) => value == null ? '—' : String(value)

/** @param {string} status */
function badge (status) {
  const span = document.createElement('span')
  span.className = 'badge ' + status
  span.textContent = status
  return span
}

// Stored space-separated: one chip each, the whole list in the tooltip.
/**
 * @param {HTMLTableCellElement} td
 * @param {string} stored
 */
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

/**
 * @param {string} id
 * @param {unknown} error
 */
function showError (id, error) {
  const p = $(id)
  p.textContent = error instanceof Error ? error.message : error ? String(error) : ''
  p.hidden = !error
}

async function load () {
  const query = new URLSearchParams({ page: String(state.page), search: state.search, status: state.status })
  if (state.pageSize !== null) query.set('pageSize', String(state.pageSize))
  try {
    /** @type {KeyPage} */
    const data = await api('keys?' + query)
    state.total = data.total
    state.pageSize = data.pageSize
    select('page-size').value = String(data.pageSize)
    render(data.items, data.pageSize)
    showError('error', null)
  } catch (error) {
    showError('error', error)
  }
}

/**
 * @param {Key[]} items
 * @param {number} pageSize
 */
function render (items, pageSize) {
  const rows = element('rows', HTMLTableSectionElement)
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
    for (const value of key.columns) cell(row, shown(value))
    const actions = cell(row, '')
    if (key.status !== 'revoked') {
      const revokeButton = document.createElement('button')
      revokeButton.type = 'button'
      revokeButton.className = 'danger'
      revokeButton.textContent = 'Revoke'
      revokeButton.addEventListener('click', (event) => { event.stopPropagation(); revoke(key) })
      actions.append(revokeButton)
    }
    row.addEventListener('click', () => details(key))
  }
  const first = state.total === 0 ? 0 : (state.page - 1) * pageSize + 1
  $('range').textContent = first + '–' + Math.min(state.page * pageSize, state.total) + ' of ' + state.total
  button('prev').disabled = state.page === 1
  button('next').disabled = state.page * pageSize >= state.total
}

/** @param {Key} key */
async function revoke (key) {
  // The panel's manager forgets the key at once; other instances when the change feed tells them,
  // or, without one, once their cached copy expires.
  if (!confirm('Revoke "' + key.name + '" (' + key.prefix + ')? It is refused at once here, and by other instances of the app ' +
    'within about a second if they run the change feed; without it, they may accept it until their cached copy expires ' +
    '(their cacheTtl option, 5 seconds by default). This cannot be undone.')) return
  try {
    await api('keys/' + encodeURIComponent(key.id) + '/revoke', { method: 'POST', body: '{}' })
    dialog('detail-dialog').close()
    await load()
  } catch (error) {
    showError('error', error)
  }
}

// Reversible, so no confirmation: the key is refused (or accepted again) here
// at once, and by other instances as after a revocation.
/**
 * @param {Key} key
 * @param {'disable' | 'enable'} action
 */
async function suspend (key, action) {
  try {
    /** @type {Key} */
    const changed = await api('keys/' + encodeURIComponent(key.id) + '/' + action, { method: 'POST', body: '{}' })
    details(changed)
    await load()
  } catch (error) {
    showError('error', error)
    dialog('detail-dialog').close()
  }
}

/** @param {Key} key */
function details (key) {
  state.current = key
  $('detail-title').textContent = key.name
  const list = $('detail')
  list.replaceChildren()
  const fields = [['Name', key.name], ['Prefix', key.prefix], ['Status', key.status], ['Id', key.id], ['Created', time(key.createdAt)],
    ['Expires', time(key.expiresAt)], ['Last used', time(key.lastUsedAt)], ['Scopes', key.scopes ? key.scopes.split(' ').join(', ') : 'none']]
  // A rotation's grace period: only worth a line while the old secret still works.
  if (key.status === 'active' && key.previousKeyExpiresAt !== null && new Date(key.previousKeyExpiresAt) > new Date()) {
    fields.push(['Old secret', 'works until ' + time(key.previousKeyExpiresAt)])
  }
  if (state.meta.ipAllowlist) fields.push(['Allowed from', key.allowedIps ? key.allowedIps.split(' ').join(', ') : 'anywhere'])
  // The stored balance: below what the key can still spend while instances hold credits they reserved.
  if (state.meta.credits) fields.push(['Credits left', key.credits == null ? 'unlimited' : key.credits.toLocaleString()], ['Refill', key.creditRefill || 'none'])
  state.meta.columns.forEach((label, i) => fields.push([label, shown(key.columns[i])]))
  for (const [label, value] of fields) {
    const dt = document.createElement('dt')
    dt.textContent = label
    const dd = document.createElement('dd')
    dd.textContent = value
    list.append(dt, dd)
  }
  $('detail-revoke').hidden = key.status === 'revoked'
  // With the suspension feature: a revoked key can be neither (revocation is permanent).
  $('detail-disable').hidden = !state.meta.suspension || key.status === 'revoked' || key.disabled === true
  $('detail-enable').hidden = !state.meta.suspension || key.status === 'revoked' || key.disabled !== true
  $('detail-ips').hidden = !state.meta.ipAllowlist || key.status === 'revoked'
  $('detail-credits').hidden = !state.meta.credits || key.status === 'revoked'
  $('detail-usage').hidden = !state.meta.usage
  if (state.meta.usage) showUsage(key)
  $('detail-events').hidden = !state.meta.audit
  if (state.meta.audit) showEvents(key)
  // A revoked key cannot be rotated; an expired one would get a secret that is refused too.
  $('detail-rotate').hidden = key.status !== 'active'
  if (!dialog('detail-dialog').open) dialog('detail-dialog').showModal()
}

const SVG = 'http://www.w3.org/2000/svg'

/**
 * The last 30 days of a key's use, as bars drawn here (no chart library, no
 * build step): one per UTC day, scaled to the busiest, each with its count
 * as a tooltip.
 * @param {Key} key
 */
async function showUsage (key) {
  const chart = element('usage-chart', SVGSVGElement)
  chart.replaceChildren()
  $('usage-caption').textContent = 'Requests, last 30 days: loading…'
  try {
    /** @type {{ days: Array<{ day: string, count: number }> }} */
    const { days } = await api('keys/' + encodeURIComponent(key.id) + '/usage')
    if (state.current?.id !== key.id) return
    const total = days.reduce((sum, { count }) => sum + count, 0)
    const busiest = Math.max(1, ...days.map(({ count }) => count))
    $('usage-caption').textContent = 'Requests, last 30 days (UTC): ' + total.toLocaleString()
    days.forEach(({ day, count }, i) => {
      const height = count === 0 ? 1 : Math.max(2, Math.round(58 * count / busiest))
      const bar = document.createElementNS(SVG, 'rect')
      bar.setAttribute('x', String(i * 10 + 1))
      bar.setAttribute('y', String(60 - height))
      bar.setAttribute('width', '8')
      bar.setAttribute('height', String(height))
      bar.setAttribute('class', count === 0 ? 'bar none' : 'bar')
      bar.dataset.count = String(count)
      const title = document.createElementNS(SVG, 'title')
      title.textContent = day + ': ' + count.toLocaleString()
      bar.append(title)
      chart.append(bar)
    })
  } catch (error) {
    $('usage-caption').textContent = 'Requests, last 30 days: ' + (error instanceof Error ? error.message : String(error))
  }
}

/** @param {unknown} value */
const told = (value) => value === null ? 'none' : typeof value === 'string' ? value : JSON.stringify(value)

/**
 * The key's history from the audit log, newest first: when, what, who, and
 * each column's change.
 * @param {Key} key
 */
async function showEvents (key) {
  const list = $('events-list')
  list.replaceChildren()
  $('events-caption').textContent = 'History: loading…'
  try {
    /** @type {{ events: KeyEvent[] }} */
    const { events } = await api('keys/' + encodeURIComponent(key.id) + '/events')
    if (state.current?.id !== key.id) return
    $('events-caption').textContent = events.length === 0 ? 'History: nothing recorded' : 'History'
    for (const event of events) {
      const item = document.createElement('li')
      item.dataset.type = event.type
      // A new key's columns had no value before: only what they were set to.
      const what = Object.entries(event.changes ?? {}).map(([field, { from, to }]) => field + ': ' + (event.type === 'created' ? '' : told(from) + ' → ') + told(to))
      if (event.details !== null) what.push(told(event.details))
      item.textContent = time(event.at) + ' · ' + event.type.replace('_', ' ') + ' · by ' + (event.actor ?? 'unknown') + (what.length === 0 ? '' : ' · ' + what.join('; '))
      list.append(item)
    }
  } catch (error) {
    $('events-caption').textContent = 'History: ' + (error instanceof Error ? error.message : String(error))
  }
}

/**
 * Swaps a key's details for one of its dialogs (ips, credits, rotate), whose
 * fields the caller has filled.
 * @param {string} name
 * @param {Key} key
 */
function openFromDetails (name, key) {
  $(name + '-name').textContent = '"' + key.name + '" (' + key.prefix + ')'
  showError(name + '-error', null)
  dialog('detail-dialog').close()
  dialog(name + '-dialog').showModal()
}

/**
 * Sends a dialog's change of a key and shows the key as changed; a refusal
 * stays in the dialog, with the server's reason.
 * @param {string} name
 * @param {Key} key
 * @param {string} path
 * @param {object} body
 */
async function saveFromDialog (name, key, path, body) {
  try {
    /** @type {Key} */
    const changed = await api('keys/' + encodeURIComponent(key.id) + '/' + path, { method: 'POST', body: JSON.stringify(body) })
    dialog(name + '-dialog').close()
    details(changed)
    await load()
  } catch (error) {
    showError(name + '-error', error)
  }
}

/** @param {Key} key */
function openAllowedIps (key) {
  input('ips-input').value = key.allowedIps ? key.allowedIps.split(' ').join(', ') : ''
  openFromDetails('ips', key)
}

/**
 * @param {Event} event
 * @param {Key} key
 */
async function saveAllowedIps (event, key) {
  event.preventDefault()
  // Empty: anywhere. The server reads the list and says what it cannot.
  const text = input('ips-input').value.trim()
  await saveFromDialog('ips', key, 'allowed-ips', { allowedIps: text === '' ? null : text })
}

/** @param {Key} key */
function openCredits (key) {
  input('credits-input').value = key.credits == null ? '' : String(key.credits)
  input('credits-refill').value = key.creditRefill || ''
  openFromDetails('credits', key)
}

/**
 * @param {Event} event
 * @param {Key} key
 */
async function saveCredits (event, key) {
  event.preventDefault()
  // Empty: unlimited, and no refill. A refill without credits, or a policy it cannot read, the server refuses with its reason.
  const credits = input('credits-input').value.trim()
  const refill = input('credits-refill').value.trim()
  await saveFromDialog('credits', key, 'credits', { credits: credits === '' ? null : Number(credits), creditRefill: refill === '' ? null : refill })
}

/**
 * @param {string} key
 * @param {string} [note]
 */
function showNewKey (key, note) {
  $('new-key').textContent = key
  $('copy').textContent = 'Copy'
  $('key-note').textContent = note || ''
  $('key-note').hidden = !note
  dialog('key-dialog').showModal()
}

function rotateEffect () {
  const grace = select('rotate-grace')
  $('rotate-effect').textContent = grace.value === '0'
    ? 'Clients still using the current secret are refused from now on.'
    : 'Clients have ' + (grace.selectedOptions[0].textContent ?? '').replace('for ', '') + ' to switch to the new key; then the current secret stops working.'
}

/** @param {Key} key */
function openRotate (key) {
  form('rotate-form').reset()
  rotateEffect()
  openFromDetails('rotate', key)
}

/**
 * @param {Event} event
 * @param {Key} key
 */
async function rotate (event, key) {
  event.preventDefault()
  const gracePeriod = Number(select('rotate-grace').value)
  try {
    /** @type {NewKey} */
    const rotated = await api('keys/' + encodeURIComponent(key.id) + '/rotate', { method: 'POST', body: JSON.stringify({ gracePeriod }) })
    dialog('rotate-dialog').close()
    const until = rotated.apiKey.previousKeyExpiresAt
    showNewKey(rotated.key, gracePeriod === 0 ? 'The old secret no longer works.' : 'The old secret keeps working until ' + time(until) + '.')
    await load()
  } catch (error) {
    showError('rotate-error', error)
  }
}

/** @param {Event} event */
async function create (event) {
  event.preventDefault()
  const name = input('create-name').value.trim()
  const expires = input('create-expires').value
  const scopes = input('create-scopes').value.split(/[\s,]+/).filter(Boolean)
  const ips = input('create-ips').value.trim()
  const credits = input('create-credits').value.trim()
  const refill = input('create-refill').value.trim()
  // The features' fields only when filled in: an app without the feature refuses them.
  const optional = { ...(ips ? { allowedIps: ips } : {}), ...(credits ? { credits: Number(credits) } : {}), ...(refill ? { creditRefill: refill } : {}) }
  try {
    // The date as typed: the server reads it, as the CLI does, whatever this browser's time zone.
    /** @type {NewKey} */
    const { key } = await api('keys', { method: 'POST', body: JSON.stringify({ name, expiresAt: expires || null, scopes, ...optional }) })
    dialog('create-dialog').close()
    form('create-form').reset()
    showNewKey(key)
    state.page = 1
    await load()
  } catch (error) {
    showError('create-error', error)
  }
}

/**
 * Fills a select with one option per value, after those the HTML has.
 * @param {HTMLSelectElement} list
 * @param {Array<string | number>} values
 * @param {(value: string) => string} label
 */
function addOptions (list, values, label) {
  for (const value of values) list.add(new Option(label(String(value)), String(value)))
}

/** @param {Key | null} key */
function current (key) {
  if (key === null) throw new Error('no key is open')
  return key
}

async function init () {
  // What the API accepts, from the API: its statuses and page sizes, the app's extra columns.
  state.meta = await api('meta')
  const head = $('head')
  for (const label of state.meta.columns) {
    const th = document.createElement('th')
    th.textContent = label
    head.insertBefore(th, head.lastElementChild)
  }
  $('create-ips-label').hidden = !state.meta.ipAllowlist
  $('create-credits-fields').hidden = !state.meta.credits
  addOptions(select('status'), state.meta.statuses, (status) => status[0].toUpperCase() + status.slice(1))
  addOptions(select('page-size'), state.meta.pageSizes, (size) => size)
  $('new').addEventListener('click', () => { showError('create-error', null); dialog('create-dialog').showModal() })
  $('create-cancel').addEventListener('click', () => dialog('create-dialog').close())
  form('create-form').addEventListener('submit', create)
  form('create-form').addEventListener('input', () => showError('create-error', null))
  $('copy').addEventListener('click', async () => {
    await navigator.clipboard.writeText($('new-key').textContent ?? '')
    $('copy').textContent = 'Copied'
  })
  // Closing the dialog drops the only copy the page holds.
  dialog('key-dialog').addEventListener('close', () => { $('new-key').textContent = '' })
  $('key-done').addEventListener('click', () => dialog('key-dialog').close())
  $('detail-close').addEventListener('click', () => dialog('detail-dialog').close())
  $('detail-revoke').addEventListener('click', () => revoke(current(state.current)))
  $('detail-rotate').addEventListener('click', () => openRotate(current(state.current)))
  $('detail-disable').addEventListener('click', () => suspend(current(state.current), 'disable'))
  $('detail-enable').addEventListener('click', () => suspend(current(state.current), 'enable'))
  $('detail-ips').addEventListener('click', () => openAllowedIps(current(state.current)))
  $('ips-cancel').addEventListener('click', () => dialog('ips-dialog').close())
  form('ips-form').addEventListener('submit', (event) => saveAllowedIps(event, current(state.current)))
  form('ips-form').addEventListener('input', () => showError('ips-error', null))
  $('detail-credits').addEventListener('click', () => openCredits(current(state.current)))
  $('credits-cancel').addEventListener('click', () => dialog('credits-dialog').close())
  form('credits-form').addEventListener('submit', (event) => saveCredits(event, current(state.current)))
  form('credits-form').addEventListener('input', () => showError('credits-error', null))
  select('rotate-grace').addEventListener('change', rotateEffect)
  $('rotate-cancel').addEventListener('click', () => dialog('rotate-dialog').close())
  form('rotate-form').addEventListener('submit', (event) => rotate(event, current(state.current)))
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer
  input('search').addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(() => { state.search = input('search').value.trim(); state.page = 1; load() }, 200)
  })
  select('status').addEventListener('change', () => { state.status = select('status').value; state.page = 1; load() })
  select('page-size').addEventListener('change', () => { state.pageSize = Number(select('page-size').value); state.page = 1; load() })
  $('prev').addEventListener('click', () => { state.page--; load() })
  $('next').addEventListener('click', () => { state.page++; load() })
  await load()
}

init().catch((error) => showError('error', error))
