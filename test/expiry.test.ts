// One meaning for an expiry, whoever types it: the CLI (in a child process)
// and the admin panel's API store the same instant for the same text, and
// refuse the same text that names no real day. The panel's form in a browser:
// admin-browser.test.ts.
import Fastify from 'fastify'
import t from 'tap'
import { EXPIRY_FORMATS, readExpiry } from '../src/expiry.ts'
import apiKeyPlugin, { apiKeyAdmin } from '../src/index.ts'
import { FAST_SCRYPT } from './helpers/app.ts'
import { cli, CONFIG, databaseEnv } from './helpers/cli.ts'
import { eachDatabase } from './helpers/databases.ts'

const PREFIX = '/admin/api-keys'
const API = { 'x-api-key-admin': '1' }

// [typed, the instant stored]
const ACCEPTED: Array<[string, string]> = [
  // A date: the key works through that day, in UTC.
  ['2099-01-31', '2099-02-01T00:00:00.000Z'],
  ['2096-02-29', '2096-03-01T00:00:00.000Z'],
  ['2099-01-31T12:00Z', '2099-01-31T12:00:00.000Z'],
  ['2099-01-31T12:00:30.25+02:00', '2099-01-31T10:00:30.250Z']
]
// [typed, the reason given]
const REFUSED: Array<[string, RegExp]> = [
  ['2027-02-30', /there is no 2027-02-30: 2027-02 has 28 days/],
  ['2097-02-29', /there is no 2097-02-29/],
  ['2099-01-31T12:00', /give the time zone/],
  ['2099-01-31T24:00Z', /there is no time 24:00Z/]
]

// Each CLI run starts a Node process that loads Prisma: the databases run side by side.
t.jobs = 3

eachDatabase(t, async (t, db) => {
  const env = await databaseEnv(db)
  const app = Fastify()
  await app.register(apiKeyPlugin, { model: db.prisma.apiKey, scrypt: FAST_SCRYPT, hashThreads: 1 })
  await app.register(apiKeyAdmin, { prefix: PREFIX, guard: async () => {} })
  t.teardown(() => app.close())
  const create = async (name: string, expiresAt: string): Promise<{ statusCode: number, body: any }> => {
    const res = await app.inject({ method: 'POST', url: `${PREFIX}/api/keys`, headers: API, payload: { name, expiresAt } })
    return { statusCode: res.statusCode, body: res.json() }
  }
  const runCli = async (name: string, expires: string): ReturnType<typeof cli> =>
    await cli(['create', '--name', name, '--expires', expires, '--json', '--config', CONFIG], env)

  t.test('the same text stores the same instant', async (t) => {
    const runs = await Promise.all(ACCEPTED.map(async ([typed]) => await runCli(`cli ${typed}`, typed)))
    for (const [i, [typed, stored]] of ACCEPTED.entries()) {
      t.equal(runs[i].code, 0, `the CLI takes ${typed}`)
      const fromCli = await app.apiKeys.get(JSON.parse(runs[i].stdout).apiKey.id)
      const fromPanel = await create(`panel ${typed}`, typed)
      t.equal(fromPanel.statusCode, 201, `the admin API takes ${typed}`)
      const fromApi = await app.apiKeys.get(fromPanel.body.apiKey.id)
      t.equal(fromCli?.expiresAt?.toISOString(), stored, `CLI: ${typed} is stored as ${stored}`)
      t.equal(fromApi?.expiresAt?.toISOString(), stored, `admin API: ${typed} is stored as ${stored}`)
    }
  })

  t.test('text that names no real day or time is refused by both', async (t) => {
    const before = (await app.apiKeys.list()).total
    const runs = await Promise.all(REFUSED.map(async ([typed]) => await runCli('never', typed)))
    for (const [i, [typed, reason]] of REFUSED.entries()) {
      t.equal(runs[i].code, 2, `the CLI refuses ${typed}`)
      t.match(runs[i].stderr, new RegExp(`^fastify-prisma-api-key: Invalid --expires "${typed.replace(/[+.]/g, '\\$&')}": ${reason.source}`))
      const res = await create('never', typed)
      t.equal(res.statusCode, 400, `the admin API refuses ${typed}`)
      t.match(res.body, { code: 'FST_API_KEY_INVALID_ARGUMENT', message: new RegExp(`^Invalid argument expiresAt: ${reason.source}`) })
    }
    t.equal((await app.apiKeys.list()).total, before, 'nothing created')
  })
})

t.test('readExpiry: strict about days, times and zones', async (t) => {
  const NOW = new Date('2026-01-15T10:00:00.000Z')
  const read = (text: string): string => {
    const expiry = readExpiry(text, NOW)
    return 'value' in expiry ? expiry.value.toISOString() : expiry.problem
  }
  t.same(Object.fromEntries(['90m', '1y', '2026-01-15', '2028-02-29', '2026-12-31', '2027-01-31T00:00Z', '2027-01-31T23:59:59.999Z',
    '2027-01-31T12:00-05:30', '2027-01-31T12:00+23:59', '9999-12-31'].map((text) => [text, read(text)])), {
    '90m': '2026-01-15T11:30:00.000Z',
    '1y': '2027-01-15T10:00:00.000Z',
    '2026-01-15': '2026-01-16T00:00:00.000Z',
    '2028-02-29': '2028-03-01T00:00:00.000Z',
    '2026-12-31': '2027-01-01T00:00:00.000Z',
    '2027-01-31T00:00Z': '2027-01-31T00:00:00.000Z',
    '2027-01-31T23:59:59.999Z': '2027-01-31T23:59:59.999Z',
    '2027-01-31T12:00-05:30': '2027-01-31T17:30:00.000Z',
    '2027-01-31T12:00+23:59': '2027-01-30T12:01:00.000Z',
    '9999-12-31': '+010000-01-01T00:00:00.000Z'
  })
  t.same(Object.fromEntries(['2027-00-10', '2027-13-01', '2027-04-31', '2027-02-30T12:00Z', '2027-01-00', '2027-01-31T23:60Z', '2027-01-31T12:00:60Z',
    '2027-01-31T12:00+24:00', '2027-01-31T12:00:00', '0099-01-31', '2026-01-14', '0m', '2027-01-31T12:00z', ' 2027-01-31', '2027-01-31T12Z',
    '2027-01-31 12:00Z', '2027-01-31T12:00:00.1234Z'].map((text) => [text, read(text)])), {
    '2027-00-10': 'there is no month 00',
    '2027-13-01': 'there is no month 13',
    '2027-04-31': 'there is no 2027-04-31: 2027-04 has 30 days',
    '2027-02-30T12:00Z': 'there is no 2027-02-30: 2027-02 has 28 days',
    '2027-01-00': 'there is no 2027-01-00: 2027-01 has 31 days',
    '2027-01-31T23:60Z': 'there is no time 23:60Z',
    '2027-01-31T12:00:60Z': 'there is no time 12:00:60Z',
    '2027-01-31T12:00+24:00': 'there is no time 12:00+24:00',
    '2027-01-31T12:00:00': 'give the time zone: 2027-01-31T12:00:00Z (UTC) or 2027-01-31T12:00:00+02:00',
    // Year 99, not 1999: refused as past, not read as another century.
    '0099-01-31': 'the key would be expired already',
    '2026-01-14': 'the key would be expired already',
    '0m': 'the key would be expired already',
    '2027-01-31T12:00z': EXPIRY_FORMATS,
    ' 2027-01-31': EXPIRY_FORMATS,
    '2027-01-31T12Z': EXPIRY_FORMATS,
    '2027-01-31 12:00Z': EXPIRY_FORMATS,
    '2027-01-31T12:00:00.1234Z': EXPIRY_FORMATS
  })
})
