// Runs inside the hashing threads (see hasher.ts). Plain JavaScript on purpose:
// the threads start without the parent's loaders (tsx, ts-node), which made
// noble's scrypt ~15x slower when they were inherited.
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { scrypt } from '@noble/hashes/scrypt.js'

// A hashing thread yields its core to the event loop: on Linux a thread has
// its own nice value, and /proc/thread-self names this thread's id. At nice 19
// a hash sharing one core with a busy event loop moved the loop's p99 delay
// from ~8 ms to ~1 ms; an otherwise idle core still goes to hashing in full.
// Elsewhere the thread keeps the process's priority.
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 19)
/* c8 ignore next: only reached where /proc/thread-self does not exist (not Linux) */
} catch {}

/**
 * @param {{ key: string, salt: Uint8Array, ln: number, r: number, p: number, dkLen: number }} task
 * @returns {Uint8Array}
 */
export default function hash (task) {
  return scrypt(task.key, task.salt, { N: 2 ** task.ln, r: task.r, p: task.p, dkLen: task.dkLen })
}
