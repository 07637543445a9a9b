// Runs inside the hashing threads (see hasher.ts). Plain JavaScript on purpose:
// the threads start without the parent's loaders (tsx, ts-node), which made
// noble's scrypt ~15x slower when they were inherited.
import { scrypt } from '@noble/hashes/scrypt.js'

/**
 * @param {{ key: string, salt: Uint8Array, ln: number, r: number, p: number, dkLen: number }} task
 * @returns {Uint8Array}
 */
export default function hash (task) {
  return scrypt(task.key, task.salt, { N: 2 ** task.ln, r: task.r, p: task.p, dkLen: task.dkLen })
}
