import { randomBytes } from 'node:crypto'

// No i, l or o (they read as 1 and 0), no 0 or 1: every character is unambiguous.
const LETTERS = 'abcdefghjkmnpqrstuvwxyz'
const ALPHABET = `${LETTERS}23456789`
export const CANONICAL_ID_LENGTH = 8
export const CANONICAL_ID_PATTERN = `^[${LETTERS}][${ALPHABET}]{${CANONICAL_ID_LENGTH - 1}}$`
/**
 * What can be stored as a canonical ID (CHAR(8) ascii): 8 printable ASCII characters, no spaces.
 * Wider than the minting alphabet: IDs imported from the legacy minter may hold any of them (uppercase, say).
 */
export const STORED_CANONICAL_ID_PATTERN = `^[!-~]{${CANONICAL_ID_LENGTH}}$`

/**
 * Draws `count` canonical IDs uniformly from a cryptographic source. Bytes at or above the largest
 * multiple of the alphabet size are rejected, so no character is more likely than another.
 */
export function generateCanonicalIds(count: number): string[] {
  const ids: string[] = []
  let bytes = randomBytes(count * CANONICAL_ID_LENGTH * 2)
  let at = 0
  const next = (alphabet: string): string => {
    const limit = 256 - (256 % alphabet.length)
    for (;;) {
      if (at === bytes.length) {
        bytes = randomBytes(64)
        at = 0
      }
      const byte = bytes[at++] as number
      if (byte < limit) return alphabet[byte % alphabet.length] as string
    }
  }
  for (let i = 0; i < count; i++) {
    let id = next(LETTERS)
    for (let j = 1; j < CANONICAL_ID_LENGTH; j++) id += next(ALPHABET)
    ids.push(id)
  }
  return ids
}
