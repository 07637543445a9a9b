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
  /** How far a long command is (done of total), as a bar on a terminal's stderr; nothing elsewhere. */
  progress (done: number, total: number): void
}

const BAR = 30

/** `[######------] 12/30`: the bar of a command done of total of the way. */
function progressBar (done: number, total: number): string {
  const filled = Math.floor(BAR * done / total)
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${done}/${total}`
}

// Redrawn in place with a carriage return, only when it changes, and wiped
// once done: nothing of it stays in the terminal, nor reaches a pipe or a log.
function bar (stderr: Writable): (done: number, total: number) => void {
  let shown = ''
  return (done, total) => {
    const line = done >= total ? '' : progressBar(done, total)
    if (line === shown) return
    // A shorter line (the empty one, at the end) first blanks the longer one.
    stderr.write(`${line.length < shown.length ? `\r${' '.repeat(shown.length)}` : ''}\r${line}`)
    shown = line
  }
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

export function terminalIo (stdin: Readable & { isTTY?: boolean }, stdout: Writable, stderr: Writable & { isTTY?: boolean }): Io {
  return {
    out: (line) => { stdout.write(`${line}\n`) },
    note: (line) => { stderr.write(`${line}\n`) },
    interactive: stdin.isTTY === true,
    // On stderr, so that `revoke ... > log` still shows the question.
    confirm: async (question) => await confirm(question, stdin, stderr),
    progress: stderr.isTTY === true ? bar(stderr) : () => {}
  }
}
