import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox'
import { Deadline } from '../services/deadline.js'
import { distinctIdentifiers, type Minter } from '../services/minter.js'
import { requestBudgetMs } from './budget.js'
import { errorResponse } from './schemas.js'

export const MAX_SOURCE_IDENTIFIERS = 100

export const MintRequestBody = Type.Object(
  {
    sourceIdentifiers: Type.Array(
      Type.String({
        minLength: 1,
        // At least one character that is not whitespace; surrounding whitespace is trimmed.
        pattern: '\\S',
        description: 'The id of a work in the source index; surrounding whitespace is trimmed.',
        examples: ['sierra-123456'],
      }),
      {
        minItems: 1,
        maxItems: MAX_SOURCE_IDENTIFIERS,
        description: `The works to identify: 1 to ${MAX_SOURCE_IDENTIFIERS} source index ids. Repeats are minted once.`,
        examples: [['sierra-123456', 'miro-789012', 'calm-uuid-here']],
      },
    ),
    jobId: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Your identifier for this batch, echoed in the response and the logs.',
        examples: ['optional-job-identifier'],
      }),
    ),
  },
  {
    description: 'The works to mint canonical IDs for. Unknown fields are ignored.',
    examples: [{ sourceIdentifiers: ['sierra-123456', 'miro-789012', 'calm-uuid-here'], jobId: 'optional-job-identifier' }],
  },
)

export const MintResponseBody = Type.Object(
  {
    successes: Type.Array(Type.String(), {
      description: 'The identifiers whose works were identified and indexed, in request order.',
      examples: [['sierra-123456', 'miro-789012']],
    }),
    failures: Type.Array(
      Type.Object({
        sourceIdentifier: Type.String({ description: 'The identifier that failed.', examples: ['calm-uuid-here'] }),
        error: Type.String({
          description: 'Starts "Failed to mint ID for <id>", then says why.',
          examples: ['Failed to mint ID for calm-uuid-here: not found in works-source'],
        }),
      }),
      { description: 'The identifiers that could not be minted, in request order: retrying them alone gives the same answer.' },
    ),
    jobId: Type.Optional(Type.String({ description: 'The request jobId, when one was given.', examples: ['optional-job-identifier'] })),
  },
  {
    description: 'Every distinct requested identifier appears once, in successes or in failures.',
    examples: [
      {
        successes: ['sierra-123456', 'miro-789012'],
        failures: [{ sourceIdentifier: 'calm-uuid-here', error: 'Failed to mint ID for calm-uuid-here: not found in works-source' }],
        jobId: 'optional-job-identifier',
      },
    ],
  },
)

export type MintRequestBody = Static<typeof MintRequestBody>
export type MintResponseBody = Static<typeof MintResponseBody>

export { BUDGET_HEADER } from './budget.js'

const routes: FastifyPluginAsyncTypebox<{ minter: Minter }> = async (app, { minter }) => {
  app.post(
    '/mint',
    {
      onRequest: app.requireApiKey,
      schema: {
        tags: ['minting'],
        summary: 'Mint canonical IDs for works and index them',
        description:
          'Reads each work from the source index, gives every source identifier in it a canonical ID (minting new ones ' +
          'as needed), embeds them and indexes the work into the identified index. A problem with one work fails only ' +
          'that work; an unreachable database or Elasticsearch answers 503 so the caller retries the whole request.',
        body: MintRequestBody,
        response: {
          200: { ...MintResponseBody, description: 'Each identifier succeeded or failed on its own.' },
          400: errorResponse(400, 'The body is not a valid mint request.', 'body/sourceIdentifiers must NOT have fewer than 1 items'),
          401: errorResponse(
            401,
            'API keys are configured and none valid was presented.',
            'A valid API key is required: send it in the x-api-key header or as a Bearer token',
          ),
          413: errorResponse(413, 'The body is larger than 1 MiB.', 'Request body is too large'),
          415: errorResponse(415, 'The body is neither application/json nor text/plain (which is read as a string, and answered 400).', 'Unsupported Media Type: application/xml'),
          503: errorResponse(
            503,
            'The database or Elasticsearch did not answer within the request\'s budget (MINT_TIMEOUT_MS), or the identified index is missing or not the identified index. ' +
              'Canonical IDs minted before the failure stay stored; retry the whole request: a retry gives the same IDs and completes what is missing.',
            'Database unavailable: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:3306',
          ),
        },
      },
    },
    async (request) => {
      if (request.body.jobId !== undefined) request.log = request.log.child({ jobId: request.body.jobId })
      const started = performance.now()
      const { result, superseded } = await minter.mint({ ...request.body, sourceIdentifiers: distinctIdentifiers(request.body.sourceIdentifiers) }, new Deadline(requestBudgetMs(app, request, app.config.MINT_TIMEOUT_MS)))
      for (const entry of superseded) request.log.info(entry, 'superseded: the identified index keeps another copy')
      const outcome = { successCount: result.successes.length, failureCount: result.failures.length }
      request.mintOutcome = outcome
      app.metrics.recordMint({
        durationMs: performance.now() - started,
        batchSize: outcome.successCount + outcome.failureCount,
        supersededCount: superseded.length,
        ...outcome,
      })
      return result
    },
  )
}

export default routes
