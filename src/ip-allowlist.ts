import { BlockList, isIP } from 'node:net'

// The addresses a key may be used from (the ipAllowlist feature): pure
// logic, no I/O. Stored space-separated in `allowedIps`; null is anywhere.

/** What the MySQL column holds (VARCHAR(1000)); the other databases keep the same bound. */
export const MAX_ALLOWLIST_LENGTH = 1000

const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i

// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports for an
// IPv4 client) is the IPv4 address it carries, in rules and in requests alike.
function unmapped (address: string): string {
  const mapped = MAPPED.exec(address)
  return mapped === null ? address : mapped[1]
}

type Entry = { address: string, family: 4 | 6, bits: number | null }

function parseEntry (text: string): Entry | null {
  const slash = text.indexOf('/')
  const address = unmapped((slash === -1 ? text : text.slice(0, slash)).toLowerCase())
  const family = isIP(address)
  if (family !== 4 && family !== 6) return null
  if (slash === -1) return { address, family, bits: null }
  const digits = text.slice(slash + 1)
  const bits = /^\d{1,3}$/.test(digits) ? Number(digits) : NaN
  if (!(bits >= 0 && bits <= (family === 4 ? 32 : 128))) return null
  return { address, family, bits }
}

const format = ({ address, bits }: Entry): string => bits === null ? address : `${address}/${bits}`

/**
 * A caller's allowlist (an array of addresses and CIDR ranges, or one string
 * of them separated by commas or spaces; null for anywhere), as stored.
 */
export function readAllowlist (input: unknown): { value: string | null } | { problem: string } {
  if (input === null) return { value: null }
  const texts = typeof input === 'string'
    ? input.split(/[\s,]+/)
    : Array.isArray(input) && input.every((item) => typeof item === 'string') ? input as string[] : null
  if (texts === null) return { problem: 'expected addresses or CIDR ranges (an array, or a string separated by commas or spaces), or null for anywhere' }
  const entries: string[] = []
  for (const text of texts.map((item) => item.trim()).filter((item) => item !== '')) {
    const entry = parseEntry(text)
    if (entry === null) return { problem: `${JSON.stringify(text.slice(0, 60))} is not an IPv4 or IPv6 address or CIDR range (such as 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32)` }
    const formatted = format(entry)
    if (!entries.includes(formatted)) entries.push(formatted)
  }
  if (entries.length === 0) return { problem: 'an empty list would refuse every address: give null for anywhere, or disable the key' }
  const value = entries.join(' ')
  if (value.length > MAX_ALLOWLIST_LENGTH) return { problem: `at most ${MAX_ALLOWLIST_LENGTH} characters when stored (space-separated): use CIDR ranges` }
  return { value }
}

// Answers remembered per row: a client calls from one or a few addresses,
// and BlockList.check costs about a microsecond.
const REMEMBERED = 64

/** A stored allowlist, parsed once per cached row. */
export class IpAllowlist {
  readonly #list: BlockList | null
  readonly #answers = new Map<string, boolean>()

  /** A stored value that does not parse (written by hand) allows nothing: fail closed. */
  constructor (stored: string) {
    const list = new BlockList()
    const entries = stored.split(' ').map(parseEntry)
    for (const entry of entries) {
      if (entry === null) break
      const family = entry.family === 4 ? 'ipv4' : 'ipv6'
      if (entry.bits === null) list.addAddress(entry.address, family)
      else list.addSubnet(entry.address, entry.bits, family)
    }
    this.#list = entries.includes(null) ? null : list
  }

  /** Whether a request from `ip` (request.ip) may use the key; no address is never allowed. */
  allows (ip: string | undefined): boolean {
    if (ip === undefined || this.#list === null) return false
    const known = this.#answers.get(ip)
    if (known !== undefined) return known
    const address = unmapped(ip)
    const family = isIP(address)
    const allowed = family !== 0 && this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6')
    if (this.#answers.size < REMEMBERED) this.#answers.set(ip, allowed)
    return allowed
  }
}
