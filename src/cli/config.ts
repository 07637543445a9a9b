import { existsSync } from 'node:fs'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isPlainObject } from '../checks.js'
import type { ApiKeyManagerOptions } from '../options.js'
import { describeError, isConnectionError, usageError } from './failure.js'

const CONFIG_ENV = 'API_KEYS_CONFIG'
const CONFIG_FILES = ['api-keys.config.mjs', 'api-keys.config.js', 'api-keys.config.ts']
const EXAMPLE = 'export default { model: prisma.apiKey, close: () => prisma.$disconnect() }'
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts'])

export interface CliConfig {
  options: ApiKeyManagerOptions
  close: () => Promise<void>
}

export interface Loaders {
  registerTypeScript: () => Promise<void>
  importModule: (url: string) => Promise<{ default?: unknown }>
}

// tsx is the user's dev dependency, not ours: it is looked for only when a
// config is written in TypeScript.
const defaultLoaders: Loaders = {
  registerTypeScript: async () => {
    const { register } = await import('tsx/esm/api')
    register()
  },
  importModule: async (url) => await import(url)
}

/** `--config`, else $API_KEYS_CONFIG, else the first of CONFIG_FILES in `cwd`. */
export function findConfig (flag: string | undefined, env: Record<string, string | undefined>, cwd: string): string {
  const [given, from] = flag !== undefined ? [flag, '--config'] : [env[CONFIG_ENV] || undefined, CONFIG_ENV]
  if (given !== undefined) {
    const path = resolve(cwd, given)
    if (!existsSync(path)) throw usageError(`Config not found: ${path} (given by ${from})`)
    return path
  }
  const found = CONFIG_FILES.map((name) => resolve(cwd, name)).find((path) => existsSync(path))
  if (found === undefined) {
    throw usageError(`No config found: write ./${CONFIG_FILES[0]} with \`${EXAMPLE}\` (see docs/cli.md), or pass --config <path>`)
  }
  return found
}

async function evaluate (path: string, loaders: Loaders): Promise<unknown> {
  try {
    const exported = (await loaders.importModule(pathToFileURL(path).href)).default
    return typeof exported === 'function' ? await exported() : exported
  } catch (err) {
    // A config that connects while loading tells of the database, not of itself.
    if (isConnectionError(err)) throw err
    throw usageError(`Could not load ${path}: ${describeError(err).message}`)
  }
}

/** Imports the config module and checks that it gives a model and, if any, a close function. */
export async function loadConfig (path: string, loaders: Loaders = defaultLoaders): Promise<CliConfig> {
  if (TYPESCRIPT.has(extname(path))) {
    try {
      await loaders.registerTypeScript()
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw err
      throw usageError(`${path} is TypeScript, which needs tsx: run npm i -D tsx, or write the config as .mjs`)
    }
  }
  const value = await evaluate(path, loaders)
  if (!isPlainObject(value) || (value as { model?: unknown }).model == null) {
    throw usageError(`${path} exports no model: write \`${EXAMPLE}\`, or export a function that returns it`)
  }
  const { close, ...options } = value as ApiKeyManagerOptions & { close?: unknown }
  if (close !== undefined && typeof close !== 'function') throw usageError(`${path}: close must be a function, such as () => prisma.$disconnect()`)
  const closer = close as (() => unknown) | undefined
  return { options, close: async () => { await closer?.() } }
}
