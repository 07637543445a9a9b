import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'

/** What commands may do with the terminal; tests give their own. */
export interface Io {
  /** A line of the command's result, on stdout. */
  out (line: string): void
  /** A line for the person at the terminal, on stderr, out of the way of scripts. */
  note (line: string): void
  /** Whether a person can answer a question. */
  interactive: boolean
  confirm (question: string): Promise<boolean>
}

/** Asks a y/N question; anything but y or yes, an end of input or Ctrl-C is a no. */
export async function confirm (question: string, input: Readable, output: Writable): Promise<boolean> {
  const rl = createInterface({ input, output })
  return await new Promise((resolve) => {
    rl.once('close', () => resolve(false))
    // Without a listener, readline only pauses on Ctrl-C and the prompt would hang.
    rl.once('SIGINT', () => {
      output.write('\n')
      rl.close()
    })
    rl.question(`${question} [y/N] `, (answer) => {
      resolve(/^y(es)?$/i.test(answer.trim()))
      rl.close()
    })
  })
}

export function terminalIo (stdin: Readable & { isTTY?: boolean }, stdout: Writable, stderr: Writable): Io {
  return {
    out: (line) => { stdout.write(`${line}\n`) },
    note: (line) => { stderr.write(`${line}\n`) },
    interactive: stdin.isTTY === true,
    // On stderr, so that `revoke ... > log` still shows the question.
    confirm: async (question) => await confirm(question, stdin, stderr)
  }
}
