// Starts bench/server.ts in its own process and talks to it; shared by the
// benchmark (bench/run.ts) and the soak script (bench/soak.ts).
import { spawn } from 'node:child_process'
import type { ServerSettings } from './server.ts'

export interface Stats { maxDelayMs: number, rss: number, maxRss: number, heapUsed: number, queries: number, handles: Record<string, number> }
export interface Server { url: string, pid: number, stats: () => Promise<Stats>, reset: () => Promise<void>, stop: () => Promise<void> }

// Servers still running when this process ends (an error, ^C) are stopped.
const running = new Set<ReturnType<typeof spawn>>()
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })
process.once('SIGINT', () => process.exit(130))

/** `command` runs the server file given as its last argument (e.g. taskset -c 0 node --import tsx). */
export async function startServer (settings: ServerSettings, command: [string, string[]]): Promise<Server> {
  const [program, args] = command
  const child = spawn(program, [...args, 'bench/server.ts'], { env: { ...process.env, BENCH_SERVER: JSON.stringify(settings) }, stdio: ['ignore', 'pipe', 'inherit'] })
  running.add(child)
  child.once('exit', () => running.delete(child))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      const m = /listening (\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  return {
    url,
    pid: child.pid as number,
    // Connection: close, so that asking for the figures leaves no socket behind to count.
    stats: async () => await (await fetch(`${url}/__stats`, { headers: { connection: 'close' } })).json() as Stats,
    reset: async () => { await fetch(`${url}/__reset`, { method: 'POST' }) },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}
