// The CLI as a user runs it: the built bin in a child process, reading the
// fixture config module (test/fixtures/cli-config.ts) through tsx.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { TestDatabase } from './databases.ts'

const ROOT = new URL('../..', import.meta.url).pathname
export const CLI = join(ROOT, 'dist/cli/main.js')
export const CONFIG = join(ROOT, 'test/fixtures/cli-config.ts')
/** The fixture config's environment for a PostgreSQL server that is not there. */
export const UNREACHABLE = { CLI_DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/test' }

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

export async function cli (args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Run> {
  // stdin is not a terminal, as in a script or CI.
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  return { code, stdout, stderr }
}

// What the fixture config needs to reach the test's database.
export async function databaseEnv (db: TestDatabase): Promise<Record<string, string>> {
  if (db.provider === 'sqlite') {
    const [main] = await db.query('PRAGMA database_list')
    return { CLI_DATABASE_URL: main.file }
  }
  if (db.provider === 'mysql') {
    const [{ name }] = await db.query('SELECT DATABASE() AS name')
    const url = new URL(process.env.TEST_MYSQL_URL as string)
    url.pathname = `/${name as string}`
    return { CLI_DATABASE_URL: url.href }
  }
  const [{ schema }] = await db.query('SELECT current_schema() AS schema')
  return { CLI_DATABASE_URL: process.env.TEST_POSTGRES_URL as string, CLI_DATABASE_SCHEMA: schema }
}
