import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { STORED_CANONICAL_ID_PATTERN } from '../services/canonical-id.js'
import { Deadline } from '../services/deadline.js'
import { keyOf, type IdentifierKey } from '../services/identifier-store/keys.js'
import { MAX_LOOKUP_KEYS, type IdentifierReader, type StoredMapping } from '../services/identifier-store/reader.js'
import { limits } from '../services/identifier-store/limits.js'
import { storedOntologyType } from '../services/work-identifiers.js'
import { requestBudgetMs } from './budget.js'
import { errorResponse } from './schemas.js'

// The read-only look-up API: what canonical ID a source identifier has, and which source
// identifiers stand behind a canonical ID. Nothing here mints, inserts or locks.

/** Bodies of POST /source-identifiers/lookup: 1,000 identifiers of the longest kind fit, as JSON. */
const LOOKUP_BODY_LIMIT = 2 * 1024 * 1024

const Text = (description: string, maxBytes: number, example: string) =>
  Type.String({ minLength: 1, maxLength: maxBytes, description: `${description} Matched exactly (case, spaces, Unicode); at most ${maxBytes} bytes in UTF-8.`, examples: [example] })

const ontologyType = (description: string, example = 'Work') => Text(description, limits.ontologyType, example)
const identifierType = () => Text('The identifier type\'s id (the identifierType.id of a sourceIdentifier), such as sierra-system-number.', limits.sourceSystem, 'sierra-system-number')
const value = () => Text('The identifier\'s value in its source system.', limits.sourceId, 'b1234567')

const asked = 'The ontology type as asked: Person, Organisation, Place, Agent, Meeting, Genre and Period are looked up as Concept, as a mint stores them.'
const stored = 'The ontology type as stored: Concept for Person, Organisation, Place, Agent, Meeting, Genre and Period.'

export const SourceIdentifier = Type.Object(
  { ontologyType: ontologyType(asked), identifierType: identifierType(), value: value() },
  { description: 'A source identifier: the triple a mint gives one canonical ID.', examples: [{ ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b1234567' }] },
)

const StoredSourceIdentifier = Type.Object(
  { ontologyType: ontologyType(stored, 'Concept'), identifierType: identifierType(), value: value() },
  { description: 'The source identifier as it is stored.', examples: [{ ontologyType: 'Concept', identifierType: 'lc-names', value: 'n79021164' }] },
)

const CanonicalIdField = (description: string) =>
  Type.String({ pattern: STORED_CANONICAL_ID_PATTERN, description, examples: ['a2b3c4d5'] })

const CreatedAt = Type.String({
  format: 'date-time',
  description: 'When the mapping was stored (minted, or imported from the legacy minter), ISO 8601 in UTC, to the millisecond.',
  examples: ['2026-11-25T21:12:04.318Z'],
})

const Mapping = Type.Object(
  {
    canonicalId: CanonicalIdField('The canonical ID the source identifier has.'),
    sourceIdentifier: StoredSourceIdentifier,
    createdAt: CreatedAt,
  },
  {
    description: 'A stored mapping.',
    examples: [{ canonicalId: 'a2b3c4d5', sourceIdentifier: { ontologyType: 'Concept', identifierType: 'lc-names', value: 'n79021164' }, createdAt: '2026-11-25T21:12:04.318Z' }],
  },
)

export const CanonicalIdParams = Type.Object({
  canonicalId: Type.String({
    pattern: STORED_CANONICAL_ID_PATTERN,
    description:
      'A canonical ID: 8 printable ASCII characters without spaces, matched exactly (case-sensitive). Minted IDs use a-z and 2-9 without i, l, o; IDs imported from the legacy minter may use any printable ASCII (percent-encode / ? # % in a URL).',
    examples: ['a2b3c4d5'],
  }),
})

export const CanonicalIdResponse = Type.Object(
  {
    canonicalId: CanonicalIdField('The canonical ID asked for.'),
    sourceIdentifiers: Type.Array(
      Type.Object(
        {
          ontologyType: ontologyType(stored, 'Work'),
          identifierType: identifierType(),
          value: value(),
          createdAt: CreatedAt,
        },
        { description: 'A source identifier with this canonical ID, as stored.' },
      ),
      {
        minItems: 1,
        description:
          'Every source identifier with this canonical ID, oldest first (ties in byte order of ontologyType, identifierType, value). More than one where a record moved between systems: its successors inherit its predecessor\'s ID.',
      },
    ),
  },
  {
    description: 'The source identifiers behind a canonical ID.',
    examples: [
      {
        canonicalId: 'a2b3c4d5',
        sourceIdentifiers: [
          { ontologyType: 'Work', identifierType: 'miro-image-number', value: 'V0789012', createdAt: '2026-11-25T21:12:04.318Z' },
          { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b1234567', createdAt: '2026-11-26T08:40:11.052Z' },
        ],
      },
    ],
  },
)

export const SourceIdentifierQuery = Type.Object(
  {
    ontologyType: ontologyType(asked),
    identifierType: identifierType(),
    value: value(),
  },
  { description: 'The source identifier to look up; other parameters are ignored.' },
)

export const SourceIdentifierResponse = Type.Object(Mapping.properties, {
  description: 'The canonical ID of a source identifier, and the identifier as stored (a Person asked for is stored as Concept).',
  examples: Mapping.examples,
})

export const LookupRequestBody = Type.Object(
  {
    sourceIdentifiers: Type.Array(SourceIdentifier, {
      minItems: 1,
      maxItems: MAX_LOOKUP_KEYS,
      description: `1 to ${MAX_LOOKUP_KEYS} source identifiers. Repeats are answered once.`,
      examples: [[{ ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b1234567' }]],
    }),
  },
  {
    description: 'The source identifiers to look up. Unknown fields are ignored.',
    examples: [
      {
        sourceIdentifiers: [
          { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b1234567' },
          { ontologyType: 'Person', identifierType: 'lc-names', value: 'n79021164' },
          { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b9999999' },
        ],
      },
    ],
  },
)

export const LookupResponseBody = Type.Object(
  {
    found: Type.Array(
      Type.Object(
        {
          requested: { ...SourceIdentifier, description: 'The source identifier as it was asked for, to match the answer to the question.' },
          ...Mapping.properties,
        },
        { description: 'A source identifier that has a canonical ID.' },
      ),
      { description: 'The identifiers that have canonical IDs, in request order.' },
    ),
    missing: Type.Array(
      { ...SourceIdentifier, description: 'A source identifier, as it was asked for, that has never been minted.' },
      { description: 'The identifiers that have never been minted, in request order.' },
    ),
  },
  {
    description: 'Every distinct identifier asked for appears once, in found or in missing.',
    examples: [
      {
        found: [
          {
            requested: { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b1234567' },
            canonicalId: 'a2b3c4d5',
            sourceIdentifier: { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b1234567' },
            createdAt: '2026-11-25T21:12:04.318Z',
          },
          {
            requested: { ontologyType: 'Person', identifierType: 'lc-names', value: 'n79021164' },
            canonicalId: 'k7mzq9pe',
            sourceIdentifier: { ontologyType: 'Concept', identifierType: 'lc-names', value: 'n79021164' },
            createdAt: '2026-11-25T21:12:04.318Z',
          },
        ],
        missing: [{ ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'b9999999' }],
      },
    ],
  },
)

export type SourceIdentifier = Static<typeof SourceIdentifier>
export type CanonicalIdResponse = Static<typeof CanonicalIdResponse>
export type SourceIdentifierResponse = Static<typeof SourceIdentifierResponse>
export type LookupRequestBody = Static<typeof LookupRequestBody>
export type LookupResponseBody = Static<typeof LookupResponseBody>

const unauthorized = errorResponse(
  401,
  'API keys are configured and none valid was presented.',
  'A valid API key is required: send it in the x-api-key header or as a Bearer token',
)
const unavailable = errorResponse(
  503,
  "The database did not answer within the look-up's budget (LOOKUP_TIMEOUT_MS). Nothing was changed: retry.",
  'Database unavailable: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:3306',
)

/** Why a source identifier cannot be one, in the words of Fastify's own validation errors; undefined when it can. */
function malformation(identifier: SourceIdentifier, at: string): string | undefined {
  const fields = [
    ['ontologyType', limits.ontologyType],
    ['identifierType', limits.sourceSystem],
    ['value', limits.sourceId],
  ] as const
  for (const [field, maxBytes] of fields) {
    const text = identifier[field]
    // A lone surrogate has no UTF-8 form, so no stored identifier can hold it.
    if (!text.isWellFormed()) return `${at}/${field} must be well-formed Unicode (it holds a lone surrogate)`
    if (Buffer.byteLength(text, 'utf8') > maxBytes) return `${at}/${field} must NOT be longer than ${maxBytes} bytes in UTF-8`
  }
  return undefined
}

/**
 * Whether the request's query string holds a percent-encoding that is not UTF-8 (`%E9`, a latin1
 * é). The query parser keeps such text as it came, so `value=%E9` would otherwise be looked up as
 * the three characters "%E9": a different identifier from the one meant.
 */
function malformedQueryEncoding(url: string): boolean {
  const at = url.indexOf('?')
  if (at < 0) return false
  for (const part of url.slice(at + 1).split('&')) {
    try {
      decodeURIComponent(part.replaceAll('+', ' '))
    } catch {
      return true
    }
  }
  return false
}

function keyOfIdentifier(identifier: SourceIdentifier): IdentifierKey {
  return { ontologyType: storedOntologyType(identifier.ontologyType), sourceSystem: identifier.identifierType, sourceId: identifier.value }
}

function storedIdentifier(key: IdentifierKey) {
  return { ontologyType: key.ontologyType, identifierType: key.sourceSystem, value: key.sourceId }
}

function mappingBody(mapping: StoredMapping) {
  return { canonicalId: mapping.canonicalId, sourceIdentifier: storedIdentifier(mapping.key), createdAt: mapping.createdAt }
}

function sendError(reply: FastifyReply, statusCode: 400 | 404, message: string) {
  return reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] as string, message })
}

const routes: FastifyPluginAsyncTypebox<{ reader: IdentifierReader }> = async (app, { reader }) => {
  /** LOOKUP_TIMEOUT_MS, and in Lambda no more than the invocation's remaining time less LAMBDA_TIMEOUT_MARGIN_MS. */
  function deadline(request: FastifyRequest): Deadline {
    const configured = app.config.LOOKUP_TIMEOUT_MS
    return new Deadline(Math.min(configured, requestBudgetMs(app, request, configured)))
  }

  app.get(
    '/canonical-ids/:canonicalId',
    {
      onRequest: app.requireApiKey,
      schema: {
        tags: ['look-up'],
        summary: 'Which source identifiers have this canonical ID?',
        description:
          'Reads the identifier store; never mints. Several source identifiers share an ID where records moved between systems (predecessors). ' +
          'IDs imported from the legacy minter are found as they were published, uppercase included.',
        params: CanonicalIdParams,
        response: {
          200: { ...CanonicalIdResponse, description: 'The source identifiers with this canonical ID, oldest first.' },
          400: errorResponse(400, 'The text does not have a canonical ID\'s shape: 8 printable ASCII characters without spaces.', 'params/canonicalId must match pattern "^[!-~]{8}$"'),
          401: unauthorized,
          404: errorResponse(
            404,
            'No source identifier has this canonical ID. The message says whether the ID is registered all the same (given out by the legacy minter and unused, or kept after an import conflict): a registered ID is never minted again.',
            'Canonical ID a2b3c4d5 is not known',
          ),
          503: unavailable,
        },
      },
    },
    async (request, reply) => {
      const { canonicalId } = request.params
      const answer = await reader.findByCanonicalId(canonicalId, deadline(request))
      if (answer.status === 'unknown') return sendError(reply, 404, `Canonical ID ${canonicalId} is not known`)
      if (answer.status === 'registered') {
        return sendError(reply, 404, `Canonical ID ${canonicalId} is registered, so it will never be minted again, but no source identifier has it`)
      }
      return {
        canonicalId,
        sourceIdentifiers: answer.mappings.map((m) => ({ ...storedIdentifier(m.key), createdAt: m.createdAt })),
      }
    },
  )

  app.get(
    '/source-identifiers',
    {
      onRequest: app.requireApiKey,
      schema: {
        tags: ['look-up'],
        summary: 'What is the canonical ID of this source identifier?',
        description:
          'Reads the identifier store; never mints. A Concept subtype (Person, Organisation, Place, Agent, Meeting, Genre, Period) is looked up as Concept, ' +
          'as a mint stores it, and the answer gives the identifier as stored. Text is matched exactly: no trimming, no case folding.',
        querystring: SourceIdentifierQuery,
        response: {
          200: { ...SourceIdentifierResponse, description: 'The source identifier has a canonical ID.' },
          400: errorResponse(
            400,
            'A parameter is missing, empty, given twice, longer than its column (64 / 255 / 1020 bytes in UTF-8), or not percent-encoded UTF-8 (encode values with encodeURIComponent: + means a space).',
            "querystring must have required property 'value'",
          ),
          401: unauthorized,
          404: errorResponse(404, 'This source identifier has never been minted.', 'No canonical ID has been minted for Work sierra-system-number/b9999999'),
          503: unavailable,
        },
      },
    },
    async (request, reply) => {
      if (malformedQueryEncoding(request.url)) return sendError(reply, 400, 'querystring must be percent-encoded UTF-8')
      const problem = malformation(request.query, 'querystring')
      if (problem) return sendError(reply, 400, problem)
      const key = keyOfIdentifier(request.query)
      const mapping = (await reader.findBySourceIdentifiers([key], deadline(request))).get(keyOf(key))
      if (!mapping) {
        const { ontologyType, identifierType, value } = request.query
        const storedAs = key.ontologyType === ontologyType ? '' : ` (looked up as ${key.ontologyType})`
        return sendError(reply, 404, `No canonical ID has been minted for ${ontologyType} ${identifierType}/${value}${storedAs}`)
      }
      return mappingBody(mapping)
    },
  )

  app.post(
    '/source-identifiers/lookup',
    {
      onRequest: app.requireApiKey,
      bodyLimit: LOOKUP_BODY_LIMIT,
      schema: {
        tags: ['look-up'],
        summary: `Look up to ${MAX_LOOKUP_KEYS} source identifiers at once`,
        description:
          'For tools: the canonical IDs of many source identifiers in one request, read in one statement. Never mints. Each answer carries the identifier as asked ' +
          '(`requested` in found, the entry itself in missing), so answers match questions whatever the order; Concept subtypes are looked up as Concept, as a mint stores them.',
        body: LookupRequestBody,
        response: {
          200: { ...LookupResponseBody, description: 'Each distinct identifier is in found or in missing, in request order.' },
          400: errorResponse(
            400,
            `The body is not a valid look-up: not JSON, sourceIdentifiers missing, empty or over ${MAX_LOOKUP_KEYS}, or an entry with a field missing, empty, not a string, longer than its column in UTF-8, or not well-formed Unicode.`,
            `body/sourceIdentifiers must NOT have more than ${MAX_LOOKUP_KEYS} items`,
          ),
          401: unauthorized,
          413: errorResponse(413, 'The body is larger than 2 MiB.', 'Request body is too large'),
          415: errorResponse(415, 'The body is neither application/json nor text/plain (which is read as a string, and answered 400).', 'Unsupported Media Type'),
          503: unavailable,
        },
      },
    },
    async (request, reply) => {
      // Exact repeats are answered once; Person and Agent with one value are two questions with one answer.
      const questions = new Map<string, { requested: SourceIdentifier; key: IdentifierKey }>()
      for (const [index, identifier] of request.body.sourceIdentifiers.entries()) {
        const problem = malformation(identifier, `body/sourceIdentifiers/${index}`)
        if (problem) return sendError(reply, 400, problem)
        const requested = { ontologyType: identifier.ontologyType, identifierType: identifier.identifierType, value: identifier.value }
        const asKey = { ontologyType: requested.ontologyType, sourceSystem: requested.identifierType, sourceId: requested.value }
        const question = keyOf(asKey)
        if (!questions.has(question)) questions.set(question, { requested, key: keyOfIdentifier(requested) })
      }
      const keys = [...questions.values()].map((q) => q.key)
      const mappings = await reader.findBySourceIdentifiers(keys, deadline(request))
      const answer: LookupResponseBody = { found: [], missing: [] }
      for (const { requested, key } of questions.values()) {
        const mapping = mappings.get(keyOf(key))
        if (mapping) answer.found.push({ requested, ...mappingBody(mapping) })
        else answer.missing.push(requested)
      }
      return answer
    },
  )
}

export default routes
