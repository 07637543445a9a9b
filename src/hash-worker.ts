import { scrypt } from '@noble/hashes/scrypt.js'

export interface HashTask {
  key: string
  salt: Uint8Array
  ln: number
  r: number
  p: number
  dkLen: number
}

// Runs inside a worker thread: the synchronous scrypt is the fastest there and
// blocks nothing but this thread.
export default function hash (task: HashTask): Uint8Array {
  return scrypt(task.key, task.salt, { N: 2 ** task.ln, r: task.r, p: task.p, dkLen: task.dkLen })
}
