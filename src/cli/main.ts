#!/usr/bin/env node
import { createApiKeyManager, type ApiKeyManager } from '../manager.js'
import type { ApiKeyManagerOptions } from '../options.js'
import { parseCommand } from './args.js'
import { runCommand } from './commands.js'
import { findConfig, loadConfig } from './config.js'
import { describeError, usageError } from './failure.js'
import { BIN, HELP } from './help.js'
import { terminalIo } from './prompt.js'

const io = terminalIo(process.stdin, process.stdout, process.stderr)

function openManager (path: string, options: ApiKeyManagerOptions): ApiKeyManager {
  try {
    // One hashing thread: a command hashes at most one key.
    return createApiKeyManager({ hashThreads: 1, ...options })
  } catch (err) {
    throw usageError(`${path}: ${describeError(err).message}`)
  }
}

async function main (argv: string[]): Promise<number> {
  const command = parseCommand(argv, new Date())
  if (command.command === 'help') {
    io.out(HELP[command.topic].trimEnd())
    return 0
  }
  const path = findConfig(command.config, process.env, process.cwd())
  const config = await loadConfig(path)
  try {
    const manager = openManager(path, config.options)
    try {
      return await runCommand(command, manager, io)
    } finally {
      await manager.close()
    }
  } finally {
    await config.close()
  }
}

// process.exit ends whatever the config left open (a connection pool, a
// timer), once what was written has reached the terminal or the pipe.
async function exit (code: number): Promise<void> {
  await Promise.all([process.stdout, process.stderr].map(async (stream) => await new Promise((resolve) => stream.write('', resolve))))
  process.exit(code)
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const { message, exitCode } = describeError(err)
  process.stderr.write(`${BIN}: ${message}\n`)
  return exitCode
}).then(exit)
