import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox'
import { Deadline } from '../services/deadline.js'
import { InvalidReprocessRequestError, MAX_LISTED_ERROR_LENGTH, MAX_LISTED_FAILURES, MAX_SLICES, type Reprocessor } from '../services/reprocess.js'
import { requestBudgetMs } from './budget.js'
import { errorResponse } from './schemas.js'

const Time = (description: string, example: string) =>
  Type.String({ format: 'date-time', description: `${description} ISO-8601 with a zone, at most to the millisecond (as indexed_at is).`, examples: [example] })

const Window = Type.Object(
  {
    startTime: Type.Optional(Time('Included. Defaults to endTime less 15 minutes.', '2026-05-02T10:00:00Z')),
    endTime: Type.Optional(Time('Excluded. Defaults to now.', '2026-05-02T10:15:00Z')),
  },
  { additionalProperties: false, description: 'The works whose indexed_at (the source index\'s ingest time) lies in [startTime, endTime).' },
)

const Slice = Type.Object(
  {
    id: Type.Integer({ minimum: 0, description: 'This slice, from 0 to max - 1.', examples: [0] }),
    max: Type.Integer({ minimum: 1, maximum: MAX_SLICES, description: 'How many slices the job has.', examples: [4] }),
  },
  { additionalProperties: false, description: 'Elasticsearch sliced search: one of `max` parts that together cover the selection exactly once.' },
)

const ResolvedWindow = Type.Object(
  {
    startTime: Type.String({ format: 'date-time', description: 'Included, in UTC to the millisecond.', examples: ['2026-05-02T10:00:00.000Z'] }),
    endTime: Type.String({ format: 'date-time', description: 'Excluded, in UTC to the millisecond.', examples: ['2026-05-02T10:15:00.000Z'] }),
  },
  { description: 'The window covered, defaults filled in: [startTime, endTime).' },
)

const windowExample = { window: { startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T10:15:00Z' }, jobId: 'scheduled-2026-05-02T10:20' }

export const ReprocessRequestBody = Type.Object(
  {
    window: Type.Optional(Window),
    full: Type.Optional(Type.Literal(true, { description: 'Every work in the source index.' })),
    slice: Type.Optional(Slice),
    slices: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_SLICES,
        description: 'Opens a job of this many slices: one point in time that they all read, and a cursor that each slice starts from (with its `slice`). Mints nothing.',
        examples: [4],
      }),
    ),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1_000_000, description: 'The cursor of an earlier answer, exactly as it came: continue where it stopped.' })),
    jobId: Type.Optional(
      Type.String({
        minLength: 1,
        // Echoed in the answer and carried in its cursor: a long one would push the answer past Step Functions' 256 KB.
        maxLength: 256,
        description: 'Your name for the job (at most 256 characters), echoed in the answer and on every log line; a continued call keeps the cursor\'s when omitted.',
        examples: ['scheduled-2026-05-02T10:20'],
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'What to reprocess: `window` or `full` (one of them), optionally a slice, and a cursor to continue from.',
    examples: [windowExample, { full: true, slices: 4, jobId: 'reindex-2026-05' }, { full: true, slice: { id: 0, max: 4 }, cursor: 'rc1.…', jobId: 'reindex-2026-05' }],
  },
)

export const ReprocessResponseBody = Type.Object(
  {
    jobId: Type.String({ description: 'The request\'s jobId, the cursor\'s, or a new UUID.' }),
    window: Type.Optional(ResolvedWindow),
    full: Type.Optional(Type.Literal(true, { description: 'The request was for every work.' })),
    slice: Type.Optional(Slice),
    slices: Type.Optional(Type.Integer({ description: 'The answer to a job\'s opening: how many slices start from `cursor`.' })),
    processed: Type.Integer({ description: 'Works minted by this call: successCount + failureCount.', examples: [12400] }),
    successCount: Type.Integer({ description: 'Works identified and indexed by this call (a copy superseded by a newer one counts: its IDs are stored).', examples: [12399] }),
    failureCount: Type.Integer({ description: 'Works this call could not mint: retrying them gives the same answer.', examples: [1] }),
    failures: Type.Array(
      Type.Object({
        sourceIdentifier: Type.String({ description: 'The work\'s id in the source index.', examples: ['calm-uuid-here'] }),
        error: Type.String({ description: 'Starts "Failed to mint ID for <id>", then says why, as POST /mint does.', examples: ['Failed to mint ID for calm-uuid-here: the work has no root identifier (state.sourceIdentifier)'] }),
      }),
      { description: `This call's first ${MAX_LISTED_FAILURES} failures, each error cut to ${MAX_LISTED_ERROR_LENGTH} characters; every failure is logged whole with the jobId.` },
    ),
    failuresTruncated: Type.Boolean({ description: `Whether this call had more than ${MAX_LISTED_FAILURES} failures.` }),
    cursor: Type.Optional(
      Type.String({ description: 'Present while works remain (the budget ran out, or a job was opened): send it back with the same window or full, and slice, to continue. Opaque; it says which point in time, selection and slice it continues.' }),
    ),
  },
  {
    description: 'What this call did. Counts are of this call only: a job\'s total is the sum over its calls.',
    examples: [
      {
        jobId: 'scheduled-2026-05-02T10:20',
        window: { startTime: '2026-05-02T10:00:00.000Z', endTime: '2026-05-02T10:15:00.000Z' },
        processed: 12400,
        successCount: 12399,
        failureCount: 1,
        failures: [{ sourceIdentifier: 'calm-uuid-here', error: 'Failed to mint ID for calm-uuid-here: the work has no root identifier (state.sourceIdentifier)' }],
        failuresTruncated: false,
        cursor: 'rc1.…',
      },
    ],
  },
)

export type ReprocessRequestBody = Static<typeof ReprocessRequestBody>
export type ReprocessResponseBody = Static<typeof ReprocessResponseBody>

/**
 * Throws InvalidReprocessRequestError (400) for a field the request schema does not name, at any
 * level. Fastify's validator drops such fields silently (removeAdditional), and here a mistyped
 * field is not harmless: `{"window": {"start": …}}` would quietly reprocess the last 15 minutes.
 */
function rejectUnknownFields(body: unknown): void {
  const check = (value: unknown, allowed: string[], path: string) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return
    const unknown = Object.keys(value).filter((name) => !allowed.includes(name))
    if (unknown.length > 0) throw new InvalidReprocessRequestError(`${path} has an unknown field ${JSON.stringify(unknown[0])}: its fields are ${allowed.join(', ')}`)
  }
  check(body, Object.keys(ReprocessRequestBody.properties), 'body')
  const { window, slice } = (body ?? {}) as { window?: unknown; slice?: unknown }
  check(window, Object.keys(Window.properties), 'body/window')
  check(slice, Object.keys(Slice.properties), 'body/slice')
}

const routes: FastifyPluginAsyncTypebox<{ reprocessor: Reprocessor }> = async (app, { reprocessor }) => {
  app.post(
    '/reprocess',
    {
      onRequest: app.requireApiKey,
      preValidation: async (request) => rejectUnknownFields(request.body),
      schema: {
        tags: ['minting'],
        summary: 'Mint every work in a window of the source index, or all of it',
        description:
          'Reads the source index from a point in time with search_after (optionally one slice of a sliced search) and mints ' +
          'its works 100 at a time through the same minter as POST /mint. Stops before its budget runs out ' +
          '(REPROCESS_TIMEOUT_MS; in Lambda the remaining time) and answers a cursor: send it back to continue, until an answer has none.',
        body: ReprocessRequestBody,
        response: {
          200: { ...ReprocessResponseBody, description: 'What this call did, and a cursor while works remain.' },
          400: errorResponse(400, 'Not a valid request: neither or both of window and full, a time that is not ISO-8601, startTime not before endTime, a slice without its job\'s cursor, or a cursor that is damaged or continues another window, slice or index.', 'window.startTime (2026-05-02T10:15:00.000Z) must be before window.endTime (2026-05-02T10:00:00.000Z)'),
          401: errorResponse(401, 'API keys are configured and none valid was presented.', 'A valid API key is required: send it in the x-api-key header or as a Bearer token'),
          410: errorResponse(410, 'The cursor\'s point in time has expired or was closed: the job cannot continue. Start it again without a cursor: minting again gives the same IDs.', 'The point in time on works-source has expired or was closed (it is kept 10m after each search): start again without a cursor'),
          413: errorResponse(413, 'The body is larger than 1 MiB.', 'Request body is too large'),
          415: errorResponse(415, 'The body is not application/json.', 'Unsupported Media Type: text/plain'),
          503: errorResponse(
            503,
            'The database or Elasticsearch did not answer, or a chunk of 100 works did not finish within MINT_TIMEOUT_MS. Retry the same request (with its cursor): what this call minted stays minted, and minting it again gives the same IDs.',
            'Elasticsearch unavailable reading a page of works-source: connect ECONNREFUSED 127.0.0.1:9200',
          ),
        },
      },
    },
    async (request) => {
      if (request.body.jobId !== undefined) request.log = request.log.child({ jobId: request.body.jobId })
      const answer = await reprocessor.reprocess(request.body, {
        deadline: new Deadline(requestBudgetMs(app, request, app.config.REPROCESS_TIMEOUT_MS)),
        log: request.log,
        onChunk: (chunk) =>
          app.metrics.recordMint({ durationMs: chunk.durationMs, batchSize: chunk.works, successCount: chunk.successCount, failureCount: chunk.failureCount, supersededCount: chunk.supersededCount }),
      })
      if (request.body.jobId === undefined) request.log = request.log.child({ jobId: answer.jobId })
      request.mintOutcome = { successCount: answer.successCount, failureCount: answer.failureCount }
      return answer
    },
  )
}

export default routes
