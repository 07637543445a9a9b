export const BIN = 'fastify-prisma-api-key'

type Rows = Array<[string, string]>

const COMMON: Rows = [
  ['--config <path>', 'the module that gives the Prisma model (default: $API_KEYS_CONFIG,\nelse ./api-keys.config.mjs, .js or .ts in the current directory)'],
  ['-h, --help', 'show this help']
]

// Two columns, the second one aligned, continuation lines under it.
function columns (rows: Rows): string {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right.replaceAll('\n', `\n  ${' '.repeat(width)}`)}`).join('\n')
}

// On every command that changes a key (src/cli/args.ts).
const ACTOR: [string, string] = ['--actor <name>', 'who is acting, for the key\'s events (default cli:<OS user name>)']

function page (usage: string, about: string, options: Rows): string {
  return `Usage: ${BIN} ${usage}\n\n${about}\n\nOptions:\n${columns([...options, ...COMMON])}\n`
}

export const HELP = {
  main: `Usage: ${BIN} <command> [options]

Creates, lists, rotates and revokes the API keys of your app, in your own database.

Commands:
${columns([
  ['create', 'create a key and print it: the only time it is shown'],
  ['list', 'list keys, newest first'],
  ['show <id|prefix>', 'show one key'],
  ['rotate <id|prefix>', 'give a key a new secret and print it; the old one can work a while'],
  ['revoke <id|prefix>', 'revoke a key, permanently'],
  ['disable <id|prefix>', 'suspend a key until it is enabled (needs suspension: true)'],
  ['enable <id|prefix>', 'lift a suspension; a revoked key stays revoked'],
  ['allowed-ips <id|prefix>', 'set where a key may be used from (needs ipAllowlist: true)'],
  ['credits <id|prefix>', 'show or set a key\'s credits and refill (needs credits: true)'],
  ['usage <id|prefix>', 'show how often a key was used, per hour or day'],
  ['events <id|prefix>', 'show what happened to a key, and who did it (needs audit)'],
  ['sweep --idle <duration>', 'revoke the keys unused for that long (--dry-run: list them);\n--expired: record the expiry of keys that expired'],
  ['import --from <system> <file>', 'import keys of drf-api-key or a SHA-256 system by their hashes\n(needs importedKeys: true)'],
  ['help [command]', 'show the help of a command']
])}

Options:
${columns(COMMON)}

The config module default-exports { model: prisma.apiKey, close } (or a function returning
it): see docs/cli.md. Exit codes: 0 done, 1 failed, 2 bad usage or config.
Commands that change a key record who did it in its events: --actor <name>, by default
cli:<your OS user name>.
`,
  create: page('create --name <name> [options]', 'Creates a key and prints it once, then its record. Store the key now: only its hash is kept.', [
    ['--name <name>', 'what the key is for (required)'],
    ['--expires <when>', 'a date (2027-01-31: works through that day, UTC), a time with its\nzone (2027-01-31T12:00Z) or a duration from now: 90m, 12h, 30d, 2w, 1y;\ndefault never, or the config\'s defaultLifetime or maxLifetime, which\nno expiry may pass'],
    ['--scope <scope>', 'what the key may do: orders:read, orders:* or * (quote it); repeatable,\nor several at once: --scope "orders:read,orders:write"; default none'],
    ['--allow-ip <cidr>', 'where the key may be used from: an address or range (10.0.0.0/8,\n2001:db8::/32); repeatable or comma-separated; default anywhere\n(needs ipAllowlist: true)'],
    ['--credits <n>', 'calls the key may make (each route says what a call costs);\ndefault unlimited (needs credits: true)'],
    ['--refill <policy>', 'when its credits come back (UTC): day:1000, month:1:50000 (on the\n1st), every:3600:100 (seconds); :add at the end adds instead of\nreplacing; needs --credits'],
    ['--field <name=value>', 'an extra column of your model, as a string; name:=<JSON> for\nnumbers, booleans and null (orgId:=42); repeatable'],
    ['--json', 'print { apiKey, key } as JSON'],
    ACTOR
  ]),
  list: page('list [options]', 'Lists keys, newest first, as a table (never the keys themselves).', [
    ['--status <status>', 'only active, disabled (with suspension: true), revoked or expired keys'],
    ['--limit <n>', 'keys per page, 1 to 500 (default 20)'],
    ['--page <n>', 'the page to show (default 1)'],
    ['--json', 'print { items, total, page, limit } as JSON']
  ]),
  show: page('show <id|prefix> [options]', 'Shows one key, found by its id or by its prefix (the 8 characters before the dot).', [
    ['--json', 'print the record as JSON']
  ]),
  revoke: page('revoke <id|prefix> [options]', 'Revokes a key, permanently; asks for confirmation on a terminal. Running apps refuse the\nkey within about a second with the change feed; without it, once their cached copy of it\nexpires (the cacheTtl option, 5 seconds by default).', [
    ['-y, --yes', 'revoke without asking (scripts: there is no terminal to confirm on)'],
    ACTOR
  ]),
  rotate: page('rotate <id|prefix> [options]', 'Gives a key a new secret and prints it once, then its record; id, name, prefix and scopes\nstay. The old secret keeps working for the grace period, then never again. A revoked key\ncannot be rotated.', [
    ['--grace <duration>', 'how long the old secret keeps working: 30m, 24h, 7d, up to 1y;\ndefault 0, it stops at once (running apps: as after revoke)'],
    ['--json', 'print { apiKey, key } as JSON'],
    ACTOR
  ]),
  disable: page('disable <id|prefix> [options]', 'Suspends a key: requests with it are refused (401 FST_API_KEY_DISABLED) until it is\nenabled. Running apps see it as they see a revocation. Needs suspension: true in the config.', [ACTOR]),
  enable: page('enable <id|prefix> [options]', 'Lifts a suspension. A revoked key cannot be enabled: revocation is permanent.', [ACTOR]),
  'allowed-ips': page('allowed-ips <id|prefix> --ip <cidr>... | --anywhere', 'Sets the addresses a key may be used from; calls from elsewhere get 403\nFST_API_KEY_IP_NOT_ALLOWED. Replaces the list. Needs ipAllowlist: true in the config.', [
    ['--ip <cidr>', 'an address or CIDR range (203.0.113.7, 10.0.0.0/8, 2001:db8::/32);\nrepeatable or comma-separated'],
    ['--anywhere', 'remove the list: the key may be used from any address'],
    ['--json', 'print the record as JSON'],
    ACTOR
  ]),
  credits: page('credits <id|prefix> [--set <n>] [--refill <policy>|none] [--unlimited]', 'Shows a key\'s credits left in the database and its refill policy, or sets them. Running\napps may hold a block of the balance reserved; a new balance voids their blocks at their\nnext reservation. Needs credits: true in the config.', [
    ['--set <n>', 'the new balance, from 0; the refill schedule counts from now'],
    ['--refill <policy>', 'day:1000, month:1:50000, every:3600:100 (UTC), :add at the end to add\ninstead of replacing; none removes it'],
    ['--unlimited', 'remove the limit and its refill'],
    ['--json', 'print the record as JSON'],
    ACTOR
  ]),
  usage: page('usage <id|prefix> [options]', 'Shows a key\'s accepted checks per period (the usage option\'s UTC hour or day), oldest\nfirst, and their total. Needs usage: { model: prisma.apiKeyUsage } in the config. Running\napps add their counts every lastUsedInterval (60 s by default).', [
    ['--from <date>', 'from the period holding this date (2026-11-01, UTC) or time\n(2026-11-01T12:00Z); default 30 days ago'],
    ['--to <date>', 'up to this date, included (2026-11-30: through that day), or\nthis time; default now'],
    ['--json', 'print { id, prefix, total, periods: [{ periodStart, count }] } as JSON']
  ]),
  events: page('events <id|prefix> [options]', 'Shows what happened to a key, newest first: each change, when, who did it (the actor its\ncaller named) and the columns it changed; never a secret or a hash. Needs\naudit: { model: prisma.apiKeyEvent } in the config (docs/events.md).', [
    ['--limit <n>', 'events to show, 1 to 500 (default 20)'],
    ['--before <id>', 'only events older than this one (the id --json gives): the next page'],
    ['--json', 'print { id, prefix, events: [{ id, type, actor, changes, details, at }] } as JSON']
  ]),
  sweep: page('sweep --idle <duration> | --expired [options]', 'Revokes every key not used for the duration (by its last use, or since its creation when\nit was never used), and prints them. Last uses are written once per lastUsedInterval\n(60 s by default): that is how precise it is. Running apps refuse the keys as after revoke.\nWith --expired, first records an expired event for each key whose expiry has passed\nsince the last run (needs audit: { model: prisma.apiKeyEvent } in the config).', [
    ['--idle <duration>', 'how long unused: 90d, 12w, 1y, at least 1h'],
    ['--expired', 'record the expiry of the keys that expired, once each (docs/events.md)'],
    ['--dry-run', 'only print the keys it would revoke'],
    ['--json', 'print { revoked: [records], expired: [records], dryRun } as JSON (each\nlist with its option)'],
    ACTOR
  ]),
  import: page('import --from <system> <file> [options]', 'Imports the keys of another system from its exported table (docs/migrating.md), by their\nhashes: the keys keep working, and each is re-hashed with scrypt on its first use. A key\nimported before is skipped, so a re-run is harmless. Prints how many were imported,\nskipped and refused (with the line and why); exits 1 if any was refused. Needs\nimportedKeys: true in the config, and in the app.', [
    ['--from <system>', 'drf-api-key (its sha512$$ and pbkdf2_sha256$ hashes) or sha256\n(SHA-256 of the key, hex or base64url) (required)'],
    ['<file>', 'a .csv with a header row, or a .json array of objects; columns prefix,\nhashed_key, name, revoked, expiry_date, created (id and others are\nignored)'],
    ['--json', 'print { imported, skipped, refused: [{ line | entry, prefix, reason }] } as JSON'],
    ACTOR
  ])
} as const

export type HelpTopic = keyof typeof HELP
