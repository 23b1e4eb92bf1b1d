import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { timingSafeEqual } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Config } from '../config.js'
import { createApiKeyVerifier, hashApiKey } from '../services/api-keys.js'

/** The header that marks a request the Lambda adapter made itself for a direct invocation. */
export const INTERNAL_HEADER = 'x-id-minter-invocation'

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook for routes that act: answers 401 unless a configured API key is presented. */
    requireApiKey: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /**
     * Whether the Lambda adapter made this request for a direct invocation (Step Functions, SQS),
     * whose callers IAM has already authorised: it carries the app's internal token.
     */
    isInternal: (request: FastifyRequest) => boolean
  }
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key']
  if (typeof header === 'string') return header
  const authorization = request.headers.authorization
  return authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined
}

export interface ApiKeyOptions {
  config: Config
  /**
   * A secret of this process's own (random, from the Lambda adapter) that its direct invocations
   * present in INTERNAL_HEADER instead of an API key. HTTP-shaped events never carry it.
   */
  internalToken?: string
}

/** Optional API keys (API_KEYS, API_KEY_HASHES): with none configured, every caller is let in. */
export default fp(
  async (app, { config, internalToken }: ApiKeyOptions) => {
    const verifier = createApiKeyVerifier({ keys: config.API_KEYS, hashes: config.API_KEY_HASHES })
    const internalDigest = internalToken ? hashApiKey(internalToken) : undefined
    app.decorate('isInternal', (request: FastifyRequest) => {
      const presented = request.headers[INTERNAL_HEADER]
      return internalDigest !== undefined && typeof presented === 'string' && timingSafeEqual(hashApiKey(presented), internalDigest)
    })
    app.decorate('requireApiKey', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!verifier.enabled || app.isInternal(request) || verifier.verify(presentedKey(request))) return
      await reply.code(401).send({
        statusCode: 401,
        error: STATUS_CODES[401],
        message: 'A valid API key is required: send it in the x-api-key header or as a Bearer token',
      })
    })
  },
  { name: 'api-keys' },
)
