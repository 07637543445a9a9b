import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { fail, isPlainObject, checkKnown } from './checks.js'
import { errors } from './errors.js'
import { keyLength, PREFIX_LENGTH } from './key-format.js'
import type { ApiKeyManager } from './manager.js'
import type { ApiKeyRecord } from './types.js'

/** One reported key that is really one of ours (its secret matched). */
export interface LeakedKey<R extends ApiKeyRecord = ApiKeyRecord> {
  apiKey: R
  /** where GitHub found it, e.g. a file in a public repository */
  url: string | null
  /** what GitHub scanned: `content`, `commit`, `issue_description`, ... */
  source: string | null
  /** the token type you enrolled with GitHub */
  type: string
  /** revoked by this report (false: action 'report', or revoked before) */
  revoked: boolean
}

export interface SecretScanningOptions<R extends ApiKeyRecord = ApiKeyRecord> {
  /** The manager whose keys are reported; default `fastify.apiKeys`. */
  manager?: ApiKeyManager<R>
  /** 'revoke' (default): a leaked key is revoked at once. 'report': only onLeak hears of it. */
  action?: 'revoke' | 'report'
  /** Called for every reported key that is really one of yours, after the action. */
  onLeak?: (leak: LeakedKey<R>) => void | Promise<void>
  /** Where GitHub lists the keys it signs reports with. */
  keysUrl?: string
  /** Headers for that request (e.g. an Authorization token against GitHub's rate limit). */
  keysHeaders?: Record<string, string>
  /** The least time (ms) between two fetches of the keys for an unknown key id (default 60 s). */
  keysRefreshInterval?: number
  /** The largest report accepted, in bytes (default 1 MiB). */
  bodyLimit?: number
}

export const GITHUB_KEYS_URL = 'https://api.github.com/meta/public_keys/secret_scanning'
const MAX_TOKENS = 1_000
// The actor of the events a report records.
const LEAK_ACTOR = 'github-secret-scanning'

const OPTIONS = ['manager', 'action', 'onLeak', 'keysUrl', 'keysHeaders', 'keysRefreshInterval', 'bodyLimit']

interface Report { token: string, type: string, url: string | null, source: string | null }

// The keys GitHub signs with, by id: fetched at the first report, and again
// for an id not seen yet, at most once per interval (an unsigned request
// naming made-up ids must not make this server hammer GitHub's API).
class SigningKeys {
  readonly #url: string
  readonly #headers: Record<string, string>
  readonly #interval: number
  #keys = new Map<string, KeyObject>()
  #fetchedAt = -Infinity
  #fetching: Promise<void> | null = null

  constructor (url: string, headers: Record<string, string>, interval: number) {
    this.#url = url
    this.#headers = headers
    this.#interval = interval
  }

  async get (id: string): Promise<KeyObject | undefined> {
    const known = this.#keys.get(id)
    if (known !== undefined || Date.now() - this.#fetchedAt < this.#interval) return known
    this.#fetching ??= this.#fetch().finally(() => { this.#fetching = null })
    await this.#fetching
    return this.#keys.get(id)
  }

  async #fetch (): Promise<void> {
    let listed: unknown
    try {
      const res = await fetch(this.#url, { headers: { accept: 'application/json', ...this.#headers } })
      if (!res.ok) throw new Error(`${this.#url} answered ${res.status}`)
      listed = await res.json()
    } catch (err) {
      throw new errors.LEAK_KEYS((err as Error).message, { cause: err })
    }
    const entries = (listed as { public_keys?: unknown })?.public_keys
    if (!Array.isArray(entries)) throw new errors.LEAK_KEYS(`${this.#url} gave no public_keys list`)
    const keys = new Map<string, KeyObject>()
    for (const entry of entries as Array<{ key_identifier?: unknown, key?: unknown }>) {
      if (typeof entry?.key_identifier !== 'string' || typeof entry.key !== 'string') continue
      try {
        keys.set(entry.key_identifier, createPublicKey(entry.key))
      } catch {
        // One key that does not parse leaves the others usable.
      }
    }
    this.#keys = keys
    this.#fetchedAt = Date.now()
  }
}

function readReport (body: Buffer): Report[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    throw new errors.LEAK_REPORT('the body is not JSON')
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new errors.LEAK_REPORT('expected a non-empty array of { token, type, url, source }')
  if (parsed.length > MAX_TOKENS) throw new errors.LEAK_REPORT(`at most ${MAX_TOKENS} tokens a report`)
  return parsed.map((item: unknown, i): Report => {
    const o = item as Record<string, unknown>
    if (!isPlainObject(item) || typeof o.token !== 'string' || typeof o.type !== 'string') throw new errors.LEAK_REPORT(`item ${i} has no token and type strings`)
    return { token: o.token, type: o.type, url: typeof o.url === 'string' ? o.url : null, source: typeof o.source === 'string' ? o.source : null }
  })
}

// The refusals given before a secret matched (throttled aside: undecided).
// Every other refusal comes after it: the key is ours, whatever its state.
const NOT_MATCHED = new Set(['malformed', 'unknown', 'wrong_secret'])

/**
 * The endpoint GitHub's secret scanning partner program posts found keys to
 * (docs/leaks.md). A report is accepted only with a valid ECDSA signature of
 * its raw body by one of GitHub's listed keys. Each token is checked like a
 * request's key, scrypt included: a token with one of your prefixes but not
 * its secret is a false positive and changes nothing, so publishing a fake
 * key cannot get a real one revoked. The answer is GitHub's feedback format.
 * @example
 * await app.register(apiKeySecretScanning, { prefix: '/github/secret-scanning', onLeak: ({ apiKey, url }) => app.log.warn({ id: apiKey.id, url }, 'key leaked') })
 */
export default async function apiKeySecretScanning (fastify: FastifyInstance, options: SecretScanningOptions<any>): Promise<void> {
  if (!isPlainObject(options)) fail('options', 'expected an object such as { prefix: \'/github/secret-scanning\' }')
  checkKnown(options as Record<string, unknown>, [...OPTIONS, 'prefix', 'logLevel'], fail)
  const manager = (options.manager ?? (fastify as { apiKeys?: unknown }).apiKeys) as ApiKeyManager | undefined
  if (typeof manager?.verify !== 'function') fail('manager', 'register apiKeyPlugin before apiKeySecretScanning, or pass manager: createApiKeyManager(...)')
  const { action = 'revoke', onLeak, keysUrl = GITHUB_KEYS_URL, keysHeaders = {}, keysRefreshInterval = 60_000, bodyLimit = 1024 * 1024 } = options
  if (action !== 'revoke' && action !== 'report') fail('action', "expected 'revoke' or 'report'")
  if (onLeak !== undefined && typeof onLeak !== 'function') fail('onLeak', 'expected a function ({ apiKey, url, source, type, revoked }) => void')
  if (typeof keysUrl !== 'string' || !URL.canParse(keysUrl)) fail('keysUrl', 'expected the URL of the signing keys\' list')
  if (!isPlainObject(keysHeaders)) fail('keysHeaders', 'expected an object of header names and values')
  if (!Number.isInteger(keysRefreshInterval) || keysRefreshInterval < 0) fail('keysRefreshInterval', 'expected milliseconds, an integer from 0')
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1) fail('bodyLimit', 'expected bytes, a positive integer')
  const keys = new SigningKeys(keysUrl, keysHeaders, keysRefreshInterval)

  // The signature covers the body's bytes: keep them, parse after checking.
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => { done(null, body) })

  async function checkSignature (request: FastifyRequest): Promise<Buffer> {
    const id = request.headers['github-public-key-identifier']
    const signature = request.headers['github-public-key-signature']
    if (typeof id !== 'string' || typeof signature !== 'string') throw new errors.LEAK_SIGNATURE('the Github-Public-Key-Identifier and Github-Public-Key-Signature headers are required')
    const body = request.body
    if (!Buffer.isBuffer(body)) throw new errors.LEAK_REPORT('expected an application/json body')
    const key = await keys.get(id)
    if (key === undefined) throw new errors.LEAK_SIGNATURE(`no signing key ${JSON.stringify(id.slice(0, 100))} is listed`)
    // An ECDSA signature in DER, base64; one that does not parse verifies as false.
    if (!verify('sha256', body, key, Buffer.from(signature, 'base64'))) throw new errors.LEAK_SIGNATURE('the signature does not match the body')
    return body
  }

  // The key whose secret this is, whatever its state; undefined when none (a false positive).
  async function ours ({ token }: Report): Promise<ApiKeyRecord | undefined> {
    // keyPattern is anchored: a token with anything around the key is not one.
    if (!manager!.keyPattern.test(token)) return undefined
    const result = await manager!.verify(token)
    if (result.valid) return result.apiKey
    // Not decided: the prefix's budget of unverified checks is spent; GitHub retries.
    if (result.reason === 'throttled') throw new errors.BUSY()
    if (NOT_MATCHED.has(result.reason)) return undefined
    const prefix = token.slice(token.length - keyLength(''), token.length - keyLength('') + PREFIX_LENGTH)
    const { items } = await manager!.list({ where: { prefix }, take: 1 })
    return items[0]
  }

  fastify.post('/', async (request) => {
    const reports = readReport(await checkSignature(request))
    const feedback = []
    for (const report of reports) {
      const apiKey = await ours(report)
      if (apiKey !== undefined) {
        const { url, source, type } = report
        const { apiKey: record, revoked } = await manager!.reportLeak(apiKey.id, { url, source, type, revoke: action === 'revoke' }, { actor: LEAK_ACTOR })
        await onLeak?.({ apiKey: record, url, source, type, revoked })
      }
      feedback.push({
        token_hash: createHash('sha256').update(report.token).digest('hex'),
        token_type: report.type,
        label: apiKey === undefined ? 'false_positive' : 'true_positive'
      })
    }
    return feedback
  })
}
