import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { Config } from '../config.js'
import { createApiKeyVerifier } from '../services/api-keys.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook for routes that act: answers 401 unless a configured API key is presented. */
    requireApiKey: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key']
  if (typeof header === 'string') return header
  const authorization = request.headers.authorization
  return authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined
}

/** Optional API keys (API_KEYS, API_KEY_HASHES): with none configured, every caller is let in. */
export default fp(
  async (app, config: Config) => {
    const verifier = createApiKeyVerifier({ keys: config.API_KEYS, hashes: config.API_KEY_HASHES })
    app.decorate('requireApiKey', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!verifier.enabled || verifier.verify(presentedKey(request))) return
      await reply.code(401).send({
        statusCode: 401,
        error: STATUS_CODES[401],
        message: 'A valid API key is required: send it in the x-api-key header or as a Bearer token',
      })
    })
  },
  { name: 'api-keys' },
)
