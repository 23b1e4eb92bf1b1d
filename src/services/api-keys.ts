import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/** A new random API key and the hash to configure in API_KEY_HASHES. */
export function newApiKey(): { key: string; hash: string } {
  const key = randomBytes(32).toString('base64url')
  return { key, hash: hashApiKey(key).toString('hex') }
}

/**
 * Checks presented keys against configured ones. Keys are compared as SHA-256 digests, so every
 * comparison has the same length, and every configured digest is compared, so the time taken says
 * nothing about which key, or how much of one, matched.
 */
export function createApiKeyVerifier(options: { keys?: string; hashes?: string }) {
  const digests = [
    ...(options.keys ?? '').split(',').map((k) => k.trim()).filter(Boolean).map(hashApiKey),
    ...(options.hashes ?? '').split(',').filter(Boolean).map((h) => Buffer.from(h, 'hex')),
  ]
  return {
    enabled: digests.length > 0,
    verify(presented: string | undefined): boolean {
      if (presented === undefined || presented === '') return false
      const digest = hashApiKey(presented)
      let matched = false
      for (const expected of digests) matched = timingSafeEqual(digest, expected) || matched
      return matched
    },
  }
}
