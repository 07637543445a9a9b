import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The environment of a shell outside this test run: without the settings npm
 * and tap pass to their children (npm_config_local_prefix would point an
 * install at this repository; NODE_OPTIONS loads tap's hooks).
 */
export function outsideEnv (): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] =>
    entry[1] !== undefined && !/^(npm_|_?tap|ts_node|node_options$|node_v8_coverage$|node$|init_cwd$)/i.test(entry[0])))
}

// --ignore-scripts: `prepare` would regenerate the clients and rebuild dist/
// while other test files run the built CLI; the tests pack dist/ as built
// (`npm test` builds first).
function pack (...args: string[]): { filename: string, files: Array<{ path: string }> } {
  const [result] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', ...args], { cwd: ROOT, env: outsideEnv(), encoding: 'utf8' }))
  return result
}

/** The paths `npm pack` puts in the tarball, without writing it. */
export function packedFiles (): string[] {
  return pack('--dry-run').files.map((file) => file.path)
}

/** Writes the tarball into `dir` and returns its path. */
export function packTarball (dir: string): string {
  return `${dir}/${pack('--pack-destination', dir).filename}`
}
