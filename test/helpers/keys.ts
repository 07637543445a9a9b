import { CHECKSUM_LENGTH, randomBase62, SECRET_LENGTH, withChecksum } from '../../src/key-format.ts'

/** The same prefix with another secret and a valid checksum: only the hash can tell. */
export function wrongSecret (key: string): string {
  const dot = key.indexOf('.')
  let secret = randomBase62(SECRET_LENGTH)
  while (secret === key.slice(dot + 1, dot + 1 + SECRET_LENGTH)) secret = randomBase62(SECRET_LENGTH)
  return withChecksum(`${key.slice(0, dot)}.${secret}`)
}

/** A well-formed key whose prefix no key has. */
export function unknownKey (brand = ''): string {
  return withChecksum(`${brand}${randomBase62(8)}.${randomBase62(SECRET_LENGTH)}`)
}

export { CHECKSUM_LENGTH }
