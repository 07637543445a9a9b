import type { Test } from 'tap'
import { spawn } from 'node:child_process'

/**
 * Starts an example script as a user would (`npx tsx <script>`, from the
 * repository's root) and resolves with its output once `ready` appears in
 * it; the process is stopped when the test ends.
 */
export async function startScript (t: Test, script: string, env: Record<string, string>, ready: string): Promise<string> {
  // The examples run the built package: their coverage is not the sources'.
  const { NODE_V8_COVERAGE, ...inherited } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...inherited, PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill() })
  let output = ''
  child.stderr.on('data', (chunk) => { output += chunk })
  return await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk
      if (output.includes(ready)) resolve(output)
    })
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${output}`)))
  })
}
