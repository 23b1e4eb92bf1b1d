/**
 * Hostile input, property-based: POST /mint (through inject) and the Lambda handler (direct
 * invocations and HTTP events) get generated requests, most of them valid mint requests for seeded
 * works (trimmed, repeated, unknown and hostile ids, jobIds, ignored fields, JSON content-type
 * spellings), the rest spread over every distinct way a request is invalid: broken or empty JSON, a
 * body that is not an object, each rule on sourceIdentifiers and jobId, prototype keys, a body over
 * 1 MiB, a content type that is not JSON, text/plain, a wrong method or path. For each case the test
 * works out the exact answer from the case alone (status; the successes and failures, or the error
 * message); the answer must be exactly that. A fixed number of cases from a fixed seed, so every run
 * covers the same ground on any machine; FUZZ_SEED replays another seed, FUZZ_SCALE scales the runs.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { STATUS_CODES } from 'node:http'
import t, { type Test } from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { setup } from '../helpers.js'
import { lambdaEnv, startLambdaHost, type Invocation, type LambdaHost } from './lambda-host.js'

const BODY_LIMIT = 1024 * 1024
const MAX_IDENTIFIERS = 100
const SEEDED = ['fuzz-w1', 'fuzz-w2', 'fuzz-w3', 'fuzz-w4', 'fuzz-w5', 'fuzz-w6']
const seed = Number(process.env.FUZZ_SEED ?? 20_261_127)
const runs = (n: number) => Math.max(1, Math.round(n * Number(process.env.FUZZ_SCALE ?? 1)))

/** Printable ASCII only (a raw U+2028 in a message would break TAP's lines). */
const printable = (text: string) => text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

// ---------------------------------------------------------------------------------------------
// The oracle: the exact answer to a request, worked out from the request alone. The rules are
// README's (API section) and the documented behaviour of Fastify's parsers: JSON for any
// application/json (charset ignored: read as UTF-8, a leading BOM dropped, prototype keys refused
// as invalid JSON), text/plain read as a string, both up to 1 MiB; 415 for any other type.

interface MintResult {
  successes: string[]
  failures: Array<{ sourceIdentifier: string; error: string }>
  jobId?: string
}

/** What the answer must be; `label` names the rule that decided it (for the case mix). */
type Expected = { status: 200; label: 'valid mint request'; result: MintResult } | { status: number; label: string; message: string }

/** The source index of this test's app: an unknown id fails "not found in <index>". */
let sourceIndex = '(not set yet)'

const NOT_JSON = "Body is not valid JSON but content-type is set to 'application/json'"
const EMPTY_JSON = "Body cannot be empty when content-type is set to 'application/json'"
const refused = (status: number, label: string, message: string): Expected => ({ status, label, message })

/** An own __proto__ key, or a constructor object with an own prototype key, anywhere in the value. */
function poisoned(value: unknown): boolean {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v !== 'object' || v === null) continue
    if (!Array.isArray(v)) {
      if (Object.hasOwn(v, '__proto__')) return true
      const c = Object.hasOwn(v, 'constructor') ? (v as Record<string, unknown>).constructor : undefined
      if (typeof c === 'object' && c !== null && Object.hasOwn(c, 'prototype')) return true
    }
    for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k])
  }
  return false
}

/** The request body (as parsed) against the rules of POST /mint, in the order the schema checks them. */
function expectBody(value: unknown): Expected {
  const invalid = (label: string, message: string) => refused(400, label, message)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid('400 body not an object', 'body must be object')
  const body = value as Record<string, unknown>
  if (!Object.hasOwn(body, 'sourceIdentifiers')) return invalid('400 sourceIdentifiers missing', "body must have required property 'sourceIdentifiers'")
  const ids = body.sourceIdentifiers
  if (!Array.isArray(ids)) return invalid('400 sourceIdentifiers not an array', 'body/sourceIdentifiers must be array')
  if (ids.length > MAX_IDENTIFIERS) return invalid('400 over 100 identifiers', `body/sourceIdentifiers must NOT have more than ${MAX_IDENTIFIERS} items`)
  if (ids.length === 0) return invalid('400 no identifiers', 'body/sourceIdentifiers must NOT have fewer than 1 items')
  for (const [i, id] of ids.entries()) {
    if (typeof id !== 'string') return invalid('400 an identifier not a string', `body/sourceIdentifiers/${i} must be string`)
    if (id === '') return invalid('400 an identifier empty', `body/sourceIdentifiers/${i} must NOT have fewer than 1 characters`)
    if (!/\S/u.test(id)) return invalid('400 an identifier blank', `body/sourceIdentifiers/${i} must match pattern "\\S"`)
  }
  if (Object.hasOwn(body, 'jobId')) {
    if (typeof body.jobId !== 'string') return invalid('400 jobId not a string', 'body/jobId must be string')
    if (body.jobId === '') return invalid('400 jobId empty', 'body/jobId must NOT have fewer than 1 characters')
  }
  // Trimmed, repeats collapsed, in request order; the seeded works succeed, any other id is not found.
  const distinct = [...new Set((ids as string[]).map((id) => id.trim()))]
  const result: MintResult = {
    successes: distinct.filter((id) => SEEDED.includes(id)),
    failures: distinct.filter((id) => !SEEDED.includes(id)).map((id) => ({ sourceIdentifier: id, error: `Failed to mint ID for ${id}: not found in ${sourceIndex}` })),
    ...(typeof body.jobId === 'string' ? { jobId: body.jobId } : {}),
  }
  return { status: 200, label: 'valid mint request', result }
}

interface HttpCase {
  method?: 'POST' | 'GET' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS'
  url?: string
  contentType?: string
  body?: string | Buffer
}

/** The bytes that arrive: a string travels as UTF-8 (so a lone surrogate arrives as U+FFFD). */
const bytesOf = (body: string | Buffer | undefined) => (body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'))

function expectHttp(c: HttpCase): Expected {
  const method = c.method ?? 'POST'
  const url = c.url ?? '/mint'
  if (method !== 'POST' || url.split('?')[0] !== '/mint') return refused(404, '404 no such route', `Route ${method} ${url} not found`)
  const bytes = bytesOf(c.body)
  if (c.contentType === undefined && bytes.length === 0) return expectBody(undefined)
  const media = c.contentType?.split(';')[0]?.trim().toLowerCase()
  if (media !== 'application/json' && media !== 'text/plain') return refused(415, '415 not JSON', 'Unsupported Media Type')
  if (bytes.length > BODY_LIMIT) return refused(413, '413 over 1 MiB', 'Request body is too large')
  const text = bytes.toString('utf8')
  if (media === 'text/plain') return expectBody(text)
  if (text === '') return refused(400, '400 empty JSON body', EMPTY_JSON)
  let value: unknown
  try {
    value = JSON.parse(text.startsWith('\ufeff') ? text.slice(1) : text)
  } catch {
    return refused(400, '400 not JSON', NOT_JSON)
  }
  if (poisoned(value)) return refused(400, '400 prototype key', NOT_JSON)
  return expectBody(value)
}

/**
 * A direct invocation's event is the request itself; invalid input is answered with one failure
 * "Invalid input: <the 4xx message>" and the event's string jobId, never thrown (README).
 */
function expectDirect(eventJson: string): { label: string; result: MintResult } {
  const event: unknown = JSON.parse(eventJson)
  const jobId = typeof event === 'object' && event !== null ? (event as Record<string, unknown>).jobId : undefined
  const invalid = (label: string, message: string) => ({
    label,
    result: { successes: [], failures: [{ sourceIdentifier: '', error: `Invalid input: ${message}` }], ...(typeof jobId === 'string' ? { jobId } : {}) },
  })
  let text: string
  try {
    text = JSON.stringify(event)
  } catch {
    return invalid('nested too deeply to serialise', 'the event is nested too deeply')
  }
  const expected = expectHttp({ contentType: 'application/json', body: text })
  return 'result' in expected ? expected : invalid(expected.label, expected.message)
}

/** Throws, describing the case, unless the answer is exactly the expected one. */
function checkHttpAnswer(c: HttpCase, status: number, contentType: string | undefined, text: string, mix: Mix): void {
  const expected = expectHttp(c)
  mix.count(expected.label)
  const describe = () =>
    printable(`${c.method ?? 'POST'} ${c.url ?? '/mint'} [${c.contentType}] ${JSON.stringify(bytesOf(c.body).toString('utf8').slice(0, 300))} -> ${status} ${text.slice(0, 300)}`)
  try {
    assert.equal(status, expected.status, `status ${status}, expected ${expected.status} (${expected.label})`)
    assert.match(contentType ?? '', /^application\/json/, 'a JSON answer')
    const body: unknown = JSON.parse(text)
    if ('result' in expected) assert.deepStrictEqual(body, expected.result)
    else assert.deepStrictEqual(body, { statusCode: expected.status, error: STATUS_CODES[expected.status], message: expected.message })
  } catch (error) {
    throw new Error(`${printable((error as Error).message.slice(0, 2000))}: ${describe()}`)
  }
}

function checkLambdaAnswer(eventJson: string, outcome: Invocation, mix: Mix): void {
  const expected = expectDirect(eventJson)
  mix.count(expected.label)
  try {
    assert.deepStrictEqual(outcome, { ok: true, result: expected.result })
  } catch (error) {
    throw new Error(`${printable((error as Error).message.slice(0, 2000))}: ${printable(eventJson.slice(0, 300))}`)
  }
}

/** How many cases each rule decided: the case mix a run covered. */
class Mix {
  readonly counts = new Map<string, number>()
  count(label: string) {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1)
  }

  get total() {
    return [...this.counts.values()].reduce((a, b) => a + b, 0)
  }

  share(label: string) {
    return (this.counts.get(label) ?? 0) / Math.max(1, this.total)
  }

  summary() {
    return [...this.counts.entries()].sort(([, a], [, b]) => b - a).map(([k, v]) => `${k}: ${v}`).join(', ')
  }
}

// ---------------------------------------------------------------------------------------------
// Generators: mostly valid mint requests for the seeded works; the rest one of the ways to be invalid.

const ABSENT = Symbol('absent')
const WHITESPACE = [' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff']
const whitespace = fc.array(fc.constantFrom(...WHITESPACE), { minLength: 1, maxLength: 3 }).map((a) => a.join(''))
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))
const control = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c))
const nasty = fc.constantFrom(
  "'; DROP TABLE identifiers; --",
  "\\' OR 1=1",
  '"',
  '\\',
  '%_',
  '`',
  '{"$gt":""}',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '\u0000',
  '\u007f',
  '🙂',
  'e\u0301',
  '\u200b',
  '\uffff',
  '\ufffe',
  '\u{10ffff}',
  '\u202e',
  '__proto__',
  'constructor',
  '"__proto__":',
)
const piece = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), loneSurrogate, control, nasty, whitespace)
const hostileString = fc.oneof(
  { weight: 8, arbitrary: fc.array(piece, { maxLength: 4 }).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => 'x'.repeat(n)) },
)

const pad = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: whitespace })
/** A seeded work's id, sometimes with whitespace around it (trimmed by the service). */
const seededId = fc.tuple(pad, fc.constantFrom(...SEEDED), pad).map(([before, id, after]) => before + id + after)
/** An id no work has: printable, hostile, long, or close to a seeded one. */
const unknownId = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }),
    hostileString,
    fc.constantFrom('Work[sierra-system-number/b1000001]', 'FUZZ-W1', 'fuzz-w1\u200b', 'fuzz-w7', 'fuzz-w1\u0000', 'fuzz-w'),
  )
  .filter((s) => /\S/u.test(s))
const validId = fc.oneof({ weight: 5, arbitrary: seededId }, { weight: 2, arbitrary: unknownId })
const validIds = fc.array(validId, { minLength: 1, maxLength: 8 })
const validJobId = fc.oneof(
  { weight: 3, arbitrary: fc.constant<unknown>(ABSENT) },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: hostileString.filter((s) => s.length > 0) },
)
/** Fields the service ignores (README: unknown fields are ignored). */
const extras = fc.array(
  fc.tuple(
    fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('SourceIdentifiers', 'sourceIdentifier', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'constructor', 'httpMethodX')),
    fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ polluted: true }), fc.constant(null)),
  ),
  { maxLength: 2 },
)

/** A JSON object's text from its entries, written out so that a "__proto__" key survives as a key. */
function objectText(entries: Array<[string, unknown]>, spaced = false): string {
  const parts = entries.filter(([, v]) => v !== ABSENT).map(([k, v]) => `${JSON.stringify(k)}:${spaced ? ' ' : ''}${JSON.stringify(v, null, spaced ? 2 : undefined)}`)
  return spaced ? `{\n  ${parts.join(',\n  ')}\n}` : `{${parts.join(',')}}`
}

/** The parts of a mint request, to be written as JSON text (valid, or with one part broken). */
const requestParts = fc.record({ ids: validIds, jobId: validJobId, extra: extras, idsFirst: fc.boolean(), spaced: fc.boolean() })
type RequestParts = { ids: unknown; jobId: unknown; extra: Array<[string, unknown]>; idsFirst: boolean; spaced: boolean }
function requestText({ ids, jobId, extra, idsFirst, spaced }: RequestParts): string {
  const main: Array<[string, unknown]> = [['sourceIdentifiers', ids], ['jobId', jobId]]
  return objectText([...(idsFirst ? main : main.reverse()), ...extra], spaced)
}

const validRequestText = fc.oneof(
  { weight: 20, arbitrary: requestParts.map(requestText) },
  // A repeated key: JSON's last one counts.
  { weight: 1, arbitrary: fc.tuple(requestParts, fc.jsonValue({ maxDepth: 1 })).map(([parts, first]) => requestText({ ...parts, idsFirst: false }).replace(/^\{/, `{"sourceIdentifiers":${JSON.stringify(first)},`)) },
)

const nonObject = fc.oneof(fc.constant(null), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.string({ maxLength: 10 }), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }))
const notAString = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.constant({}), fc.array(fc.constantFrom(...SEEDED), { maxLength: 2 }))

const insertAt = (items: unknown[], item: unknown, at: number) => {
  const copy = [...items]
  copy.splice(at % (copy.length + 1), 0, item)
  return copy
}

/**
 * A mint request padded to BODY_LIMIT + delta bytes: with spaces inside the JSON, a long ignored
 * field, or a long jobId (a Lambda event keeps only the last two: it is serialised again).
 */
function overLimit(delta: fc.Arbitrary<number>, forms: Array<'spaces' | 'field' | 'jobId'>): fc.Arbitrary<string> {
  return fc.tuple(requestParts, delta, fc.constantFrom(...forms)).map(([parts, delta, form]) => {
    const text = requestText({ ...parts, jobId: ABSENT, spaced: false })
    const room = BODY_LIMIT + delta - Buffer.byteLength(text)
    if (form === 'spaces') return text + ' '.repeat(room)
    const key = form === 'jobId' ? 'jobId' : 'padding'
    return text.replace(/^\{/, `{"${key}":"${'j'.repeat(room - key.length - 6)}",`)
  })
}

/** Bodies that are invalid JSON requests, each kind a distinct rule (the oracle still judges every one). */
const invalidRequestText = {
  'body not an object': nonObject.map((v) => JSON.stringify(v)),
  'sourceIdentifiers missing': fc
    .tuple(requestParts, fc.constantFrom('SourceIdentifiers', 'sourceIdentifier', 'source_identifiers', 'ids'))
    .map(([parts, key]) => objectText([[key, parts.ids], ['jobId', parts.jobId], ...parts.extra], parts.spaced)),
  'sourceIdentifiers not an array': fc.tuple(requestParts, fc.oneof(nonObject.filter((v) => !Array.isArray(v)), fc.constant({ 0: 'fuzz-w1' }), fc.constantFrom(...SEEDED))).map(([parts, ids]) => requestText({ ...parts, ids })),
  'no identifiers': requestParts.map((parts) => requestText({ ...parts, ids: [] })),
  'over 100 identifiers': fc.tuple(requestParts, fc.array(validId, { minLength: 101, maxLength: 130 })).map(([parts, ids]) => requestText({ ...parts, ids })),
  'an identifier not a string': fc.tuple(requestParts, notAString, fc.nat()).map(([parts, bad, at]) => requestText({ ...parts, ids: insertAt(parts.ids as unknown[], bad, at) })),
  'an identifier empty': fc.tuple(requestParts, fc.nat()).map(([parts, at]) => requestText({ ...parts, ids: insertAt(parts.ids as unknown[], '', at) })),
  'an identifier blank': fc.tuple(requestParts, whitespace, fc.nat()).map(([parts, bad, at]) => requestText({ ...parts, ids: insertAt(parts.ids as unknown[], bad, at) })),
  'jobId not a string': fc.tuple(requestParts, notAString).map(([parts, jobId]) => requestText({ ...parts, jobId })),
  'jobId empty': requestParts.map((parts) => requestText({ ...parts, jobId: '' })),
  'prototype key': fc
    .tuple(requestParts, fc.constantFrom('"__proto__"', '"\\u005f_proto__"', '"constructor"'), fc.boolean())
    .map(([parts, key, nested]) => {
      const poison = key === '"constructor"' ? '{"prototype":{"polluted":true}}' : '{"polluted":true}'
      const entry = nested ? `"extra":[{${key}:${poison}}]` : `${key}:${poison}`
      return requestText(parts).replace(/^\{/, `{${entry},`)
    }),
  'over 1 MiB': overLimit(fc.integer({ min: 1, max: 3 }), ['field', 'jobId']),
} satisfies Record<string, fc.Arbitrary<string>>

/** Valid-looking JSON, then broken: truncated, a character dropped, inserted or replaced; or random bytes. */
const brokenJson = fc.oneof(
  fc
    .tuple(validRequestText, fc.nat(), fc.constantFrom('truncate', 'drop', 'insert', 'replace'), fc.constantFrom('{', '}', '"', ',', ':', '\\', '\u0000', ']', 'x', '\ud800'))
    .map(([text, at, how, ch]): string | Buffer => {
      const i = at % Math.max(1, text.length)
      if (how === 'truncate') return text.slice(0, i)
      if (how === 'drop') return text.slice(0, i) + text.slice(i + 1)
      if (how === 'insert') return text.slice(0, i) + ch + text.slice(i)
      return text.slice(0, i) + ch + text.slice(i + 1)
    }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
  fc.constantFrom(' ', '\n\t', '\ufeff', '\ufeff\ufeff{}', ' \ufeff{"sourceIdentifiers":["fuzz-w1"]}', "{'sourceIdentifiers':['fuzz-w1']}", '{"sourceIdentifiers":["fuzz-w1",]}'),
)

const JSON_TYPES = ['application/json; charset=utf-8', 'APPLICATION/JSON', 'Application/Json;charset=UTF-8', 'application/json;', 'application/json ; charset=latin1', 'application/json; charset=utf-16']
const jsonType = fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, { weight: 2, arbitrary: fc.constantFrom(...JSON_TYPES) })
const OTHER_TYPES = [undefined, '', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml', 'application/octet-stream', 'application/jsonx', 'application/vnd.api+json', 'json', 'text/json']

/** A valid body as a client might send it: text, bytes, or with a byte-order mark; sometimes with a query string. */
const validHttpCase: fc.Arbitrary<HttpCase> = fc
  .record({
    // Now and then a body of exactly 1 MiB, or a byte or two under it.
    text: fc.oneof({ weight: 30, arbitrary: validRequestText }, { weight: 1, arbitrary: overLimit(fc.integer({ min: -2, max: 0 }), ['spaces', 'field', 'jobId']) }),
    contentType: jsonType,
    form: fc.oneof({ weight: 4, arbitrary: fc.constant('text') }, { weight: 1, arbitrary: fc.constantFrom('bytes', 'bom') }),
    query: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('/mint?x=1', '/mint?') }),
  })
  .map(({ text, contentType, form, query }) => ({
    contentType,
    body: form === 'bytes' ? Buffer.from(text, 'utf8') : form === 'bom' ? `\ufeff${text}` : text,
    ...(query ? { url: query } : {}),
  }))

const invalidHttpCases: Record<string, fc.Arbitrary<HttpCase>> = {
  ...Object.fromEntries(Object.entries(invalidRequestText).map(([kind, text]) => [kind, fc.record({ contentType: jsonType, body: text })])),
  'over 1 MiB': fc.record({ contentType: jsonType, body: overLimit(fc.integer({ min: 1, max: 3 }), ['spaces', 'field', 'jobId']) }),
  'broken JSON': fc.record({ contentType: jsonType, body: brokenJson }),
  'empty JSON': fc.record({ contentType: jsonType, body: fc.constantFrom<string | undefined>('', undefined) }),
  'not a JSON content type': fc.record({ contentType: fc.constantFrom(...OTHER_TYPES), body: validRequestText }),
  'text/plain': fc.record({ contentType: fc.constantFrom('text/plain', 'text/plain; charset=utf-8', 'TEXT/PLAIN'), body: validRequestText }),
  'wrong method or path': fc.record({
    method: fc.constantFrom('GET' as const, 'PUT' as const, 'DELETE' as const, 'PATCH' as const, 'OPTIONS' as const, 'POST' as const),
    url: fc.constantFrom('/mint/', '/mint/x', '/Mint', '//mint', '/mint%00', '/mint;x', '/', '/mint', '/mint', '/mint'),
    contentType: fc.constant('application/json'),
    body: validRequestText,
  }),
}

/** About two cases in three are valid mint requests; the rest are spread evenly over the kinds of invalid. */
const httpCase: fc.Arbitrary<HttpCase> = fc.oneof(
  { weight: 2 * Object.keys(invalidHttpCases).length, arbitrary: validHttpCase },
  ...Object.values(invalidHttpCases).map((arbitrary) => ({ weight: 1, arbitrary })),
)

/** A direct invocation's event: mostly a valid mint request, otherwise one of the invalid kinds that a JSON event can be. */
const directEvent = fc.oneof(
  { weight: 2 * Object.keys(invalidRequestText).length, arbitrary: validRequestText },
  ...Object.values(invalidRequestText).map((arbitrary) => ({ weight: 1, arbitrary })),
)

const nest = (depth: number, open = '[', close = ']', inner = '') => open.repeat(depth) + inner + close.repeat(depth)
const nestObjects = (depth: number, inner = '1') => '{"a":'.repeat(depth) + inner + '}'.repeat(depth)

/** Hand-picked extremes, judged by the same oracle. */
function edgeCases(): HttpCase[] {
  const json = (body: string, type = 'application/json'): HttpCase => ({ contentType: type, body })
  const tenThousand = Array.from({ length: 10_000 }, (_, i) => `w${i}`)
  return [
    json(JSON.stringify({ sourceIdentifiers: tenThousand })),
    json(JSON.stringify({ sourceIdentifiers: Array.from({ length: 10_000 }, (_, i) => (i % 2 ? i : null)) })),
    json(JSON.stringify({ sourceIdentifiers: [...SEEDED, ...Array.from({ length: 100 - SEEDED.length }, (_, i) => `n${i}`)] })),
    json(JSON.stringify({ sourceIdentifiers: Array.from({ length: 101 }, (_, i) => `n${i}`) })),
    json(JSON.stringify({ sourceIdentifiers: ['y'.repeat(2 * 1024 * 1024)] })),
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'], padding: ' '.repeat(5 * 1024 * 1024) })),
    json(' '.repeat(3 * 1024 * 1024)),
    json(JSON.stringify({ sourceIdentifiers: Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(9_000, 'z')) })),
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'], jobId: 'j'.repeat(900_000) })),
    json(nest(100_000)),
    json(nestObjects(100_000)),
    json(`{"sourceIdentifiers":["fuzz-w1"],"deep":${nest(100_000)}}`),
    json(`{"sourceIdentifiers":${nest(50_000, '[', ']', '"fuzz-w1"')}}`),
    json(`{"sourceIdentifiers":["fuzz-w1"],"deep":${nestObjects(50_000)}}`),
    json('{"sourceIdentifiers":["\\ud800"]}'),
    json('{"sourceIdentifiers":["\\udfff\\ud800","a\\ud834"]}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":"\\udc00"}'),
    json('{"sourceIdentifiers":["fuzz-w1\ud800"],"jobId":"raw \udc00"}'),
    json('{"sourceIdentifiers":["\\u0000"]}'),
    json('{"sourceIdentifiers":["\\u0001\\u0002\\u001f\\u007f"]}'),
    json('{"sourceIdentifiers":["\u0001raw control"]}'),
    json('{"sourceIdentifiers":["\\u00a0\\u2028\\u3000\\ufeff"]}'),
    json('{"sourceIdentifiers":["\\u200b"]}'),
    json('{"sourceIdentifiers":[" fuzz-w1 ","fuzz-w1","\\tfuzz-w2\\n","fuzz-w2"]}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":""}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":"   "}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":null}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":7}'),
    json('{"sourceIdentifiers":[],"sourceIdentifiers":["fuzz-w1"]}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"__proto__":{"polluted":true}}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"\\u005f_proto__":{"polluted":true}}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"a":{"constructor":{"prototype":{"polluted":true}}}}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"a":{"constructor":{"prototype":null}}}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"constructor":null}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"constructor":[1]}'),
    json('{"sourceIdentifiers":["\\"__proto__\\":"]}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"n":1e400,"m":-0,"k":123456789012345678901234567890}'),
    json('\ufeff{"sourceIdentifiers":["fuzz-w1"]}'),
    json('\ufeff\ufeff{"sourceIdentifiers":["fuzz-w1"]}'),
    json('{"sourceIdentifiers":["fuzz-w1"]} trailing'),
    json('{"sourceIdentifiers":["fuzz-w1"]}\u0000'),
    json("{'sourceIdentifiers':['fuzz-w1']}"),
    json('{"sourceIdentifiers":["fuzz-w1",]}'),
    json('null'),
    json('"fuzz-w1"'),
    json('["fuzz-w1"]'),
    json(''),
    json(' '),
    json('{"sourceIdentifiers":["a"]}' + ' '.repeat(BODY_LIMIT - 26)),
    json('{"sourceIdentifiers":["a"]}' + ' '.repeat(BODY_LIMIT - 27)),
    { contentType: 'application/json' },
    { contentType: 'application/json', body: Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]) },
    { contentType: 'application/json', body: Buffer.concat([Buffer.from('{"sourceIdentifiers":["'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"]}')]) },
    { contentType: 'application/json', body: Buffer.from(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), 'utf16le') },
    { contentType: 'application/json; charset=latin1', body: Buffer.from('{"sourceIdentifiers":["fuzz-w1","caf\u00e9"]}', 'latin1') },
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), 'text/plain'),
    json('', 'text/plain'),
    json('x'.repeat(BODY_LIMIT + 1), 'text/plain'),
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), 'application/x-www-form-urlencoded'),
    json('sourceIdentifiers=fuzz-w1', 'application/x-www-form-urlencoded'),
    json('x'.repeat(2 * BODY_LIMIT), 'application/xml'),
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), 'application/json; charset=utf-16'),
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), ''),
    { contentType: '' },
    { body: JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }) },
    {},
    { method: 'GET', url: '/mint' },
    { method: 'PUT', url: '/mint', contentType: 'application/json', body: JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }) },
    { url: '/mint?jobId=x', contentType: 'application/json', body: JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }) },
  ]
}

/** Each rule must have decided some cases, and most cases must be valid requests, or the run proved little. */
function checkMix(t: Test, mix: Mix, labels: string[], atLeast: number) {
  t.comment(`case mix (${mix.total}): ${mix.summary()}`)
  t.ok(mix.share('valid mint request') >= 0.5, `${(100 * mix.share('valid mint request')).toFixed(0)}% of the cases are valid mint requests`)
  const rare = labels.filter((label) => (mix.counts.get(label) ?? 0) < atLeast)
  t.same(rare, [], `every rule decided at least ${atLeast} cases`)
}

const HTTP_LABELS = [
  'valid mint request',
  '400 body not an object',
  '400 sourceIdentifiers missing',
  '400 sourceIdentifiers not an array',
  '400 over 100 identifiers',
  '400 no identifiers',
  '400 an identifier not a string',
  '400 an identifier empty',
  '400 an identifier blank',
  '400 jobId not a string',
  '400 jobId empty',
  '400 prototype key',
  '400 not JSON',
  '400 empty JSON body',
  '413 over 1 MiB',
  '415 not JSON',
  '404 no such route',
]
const DIRECT_LABELS = HTTP_LABELS.filter((label) => !['400 not JSON', '400 empty JSON body', '415 not JSON', '404 no such route'].includes(label))

// ---------------------------------------------------------------------------------------------

t.test('hostile input: every answer is exactly the one the request calls for', async (t) => {
  const ctx = await setup(t, 'fuzz')
  sourceIndex = ctx.config.es_source_index
  await ctx.seed(SEEDED.map((id, i) => makeWork({ id, value: `bfuzz${i}`, nested: 2 })))
  t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} replays this run; FUZZ_SCALE scales the number of cases)`)
  const totals = { http: 0, lambda: 0 }
  const property = <T>(arbitrary: fc.Arbitrary<T>, numRuns: number, check: (value: T) => Promise<void>) =>
    fc.assert(fc.asyncProperty(arbitrary, check), { numRuns, seed })

  const inject = async (c: HttpCase, mix: Mix) => {
    const headers: Record<string, string> = {}
    if (c.contentType !== undefined) headers['content-type'] = c.contentType
    const response = await ctx.app.inject({ method: c.method ?? 'POST', url: c.url ?? '/mint', headers, ...(c.body !== undefined ? { payload: c.body } : {}) })
    checkHttpAnswer(c, response.statusCode, response.headers['content-type'] as string | undefined, response.body, mix)
  }

  await t.test('POST /mint (inject): generated requests', async (t) => {
    const mix = new Mix()
    const started = Date.now()
    const passed = await t.resolves(property(httpCase, runs(1000), (c) => inject(c, mix)))
    totals.http += mix.total
    t.comment(`${mix.total} HTTP cases in ${Date.now() - started} ms`)
    if (passed === true) checkMix(t, mix, HTTP_LABELS, runs(5))
  })

  await t.test('POST /mint (inject): 10,000-item arrays, multi-megabyte bodies, deep nesting, surrogates, control characters', async (t) => {
    const mix = new Mix()
    for (const c of edgeCases()) {
      const text = bytesOf(c.body).toString('utf8')
      await t.resolves(inject(c, mix), printable(`${c.method ?? 'POST'} ${c.url ?? '/mint'} [${c.contentType}] ${text.slice(0, 60).replace(/\s+/g, ' ')}${text.length > 60 ? '...' : ''}: ${expectHttp(c).label}`))
    }
    totals.http += mix.total
    t.comment(`${mix.total} edge cases: ${mix.summary()}`)
  })

  const lambda: LambdaHost = await startLambdaHost(lambdaEnv(ctx.config))
  t.teardown(() => lambda.close())
  await t.test('Lambda direct invocations: generated events', async (t) => {
    const mix = new Mix()
    const started = Date.now()
    const passed = await t.resolves(property(directEvent, runs(400), async (json) => checkLambdaAnswer(json, await lambda.invokeJson(json), mix)))
    totals.lambda += mix.total
    t.comment(`${mix.total} Lambda direct cases in ${Date.now() - started} ms`)
    if (passed === true) checkMix(t, mix, DIRECT_LABELS, runs(3))
    t.ok(lambda.alive(), 'the container is still running')
  })

  await t.test('Lambda direct invocations: extremes (huge, deep, surrogates)', async (t) => {
    const mix = new Mix()
    const events: Array<[string, string]> = [
      ['10,000 identifiers', JSON.stringify({ sourceIdentifiers: Array.from({ length: 10_000 }, (_, i) => `w${i}`), jobId: 'big' })],
      ['2 MB identifier', JSON.stringify({ sourceIdentifiers: ['y'.repeat(2 * 1024 * 1024)], jobId: 'huge' })],
      ['lone surrogates', '{"sourceIdentifiers":["\\ud800","fuzz-w1"],"jobId":"\\udfff"}'],
      ['control characters', '{"sourceIdentifiers":["\\u0000\\u0001","fuzz-w2"]}'],
      ['null', 'null'],
      ['a number', '42'],
      ['an array', '["fuzz-w1"]'],
      ['an empty jobId is echoed with the invalid-input answer', '{"sourceIdentifiers":[],"jobId":""}'],
      ['nesting 1,000 deep beside valid ids', `{"sourceIdentifiers":["fuzz-w1"],"deep":${nest(1_000)}}`],
      ['nesting 10,000 deep beside valid ids', `{"sourceIdentifiers":["fuzz-w1"],"deep":${nest(10_000)}}`],
      ['nesting 100,000 deep', nest(100_000)],
      ['objects nested 10,000 deep as the event', `{"jobId":"deep","x":${nestObjects(10_000)}}`],
    ]
    for (const [what, json] of events) {
      const outcome = await lambda.invokeJson(json)
      await t.resolves((async () => checkLambdaAnswer(json, outcome, mix))(), `${what}: ${expectDirect(json).label}`)
    }
    totals.lambda += mix.total
    t.ok(lambda.alive(), 'the container is still running')
  })

  await t.test('Lambda: a direct invocation is not mistaken for an HTTP event because of a stray field', async (t) => {
    for (const event of [
      { sourceIdentifiers: ['fuzz-w1'], requestContext: {} },
      { sourceIdentifiers: ['fuzz-w1'], requestContext: { stateMachine: 'x' } },
      { sourceIdentifiers: [], requestContext: {} },
    ]) {
      const json = JSON.stringify(event)
      totals.lambda++
      t.same(await lambda.invokeJson(json), { ok: true, result: expectDirect(json).result }, `${json} gets a mint result, not an HTTP response`)
    }
  })

  await t.test('Lambda HTTP events (API Gateway v1 and v2): generated bodies', async (t) => {
    const mix = new Mix()
    const started = Date.now()
    const httpEvent = fc.record({
      c: httpCase.filter((c) => c.method === undefined && c.url === undefined),
      version: fc.constantFrom('1.0', '2.0'),
      base64: fc.boolean(),
    })
    const passed = await t.resolves(
      property(httpEvent, runs(300), async ({ c, version, base64 }) => {
        const raw = c.body === undefined ? undefined : bytesOf(c.body)
        // A body travels base64-encoded, or as text (UTF-8): judge what arrives.
        const encoded = raw !== undefined && (base64 || Buffer.isBuffer(c.body))
        const arrives: HttpCase = { ...(c.contentType !== undefined ? { contentType: c.contentType } : {}), ...(raw ? { body: encoded ? raw : raw.toString('utf8') } : {}) }
        const headers: Record<string, string> = c.contentType !== undefined ? { 'content-type': c.contentType } : {}
        const body = raw === undefined ? undefined : encoded ? raw.toString('base64') : raw.toString('utf8')
        const event =
          version === '1.0'
            ? { httpMethod: 'POST', path: '/mint', headers, body, isBase64Encoded: encoded, requestContext: { requestId: 'r' } }
            : { version: '2.0', routeKey: 'POST /mint', rawPath: '/mint', rawQueryString: '', headers, body, isBase64Encoded: encoded, requestContext: { http: { method: 'POST', path: '/mint' } } }
        const outcome = await lambda.invoke(event)
        if (!outcome.ok) throw new Error(`HTTP event threw ${outcome.error.name}: ${outcome.error.message}`)
        const response = outcome.result as { statusCode: number; headers?: Record<string, string>; body: string; isBase64Encoded?: boolean }
        const text = response.isBase64Encoded ? Buffer.from(response.body, 'base64').toString('utf8') : response.body
        checkHttpAnswer(arrives, response.statusCode, response.headers?.['content-type'], text, mix)
      }),
    )
    totals.lambda += mix.total
    t.comment(`${mix.total} Lambda HTTP cases in ${Date.now() - started} ms`)
    if (passed === true) checkMix(t, mix, HTTP_LABELS.filter((label) => label !== '404 no such route'), runs(1))
    t.ok(lambda.alive(), 'the container is still running')
  })

  await t.test('afterwards: healthy, nothing polluted, only the seeded works minted', async (t) => {
    const health = await ctx.app.inject({ method: 'GET', url: '/health' })
    t.equal(health.statusCode, 200, 'GET /health is 200')
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype not polluted')
    t.ok(lambda.alive(), 'the Lambda container never crashed')
    const outcome = await lambda.invoke({ sourceIdentifiers: SEEDED, jobId: 'after' })
    t.same(outcome, { ok: true, result: { successes: SEEDED, failures: [], jobId: 'after' } }, 'the Lambda still mints')
    const works = await ctx.sql<{ n: number }>("SELECT COUNT(*) AS n FROM identifiers WHERE OntologyType = 'Work'")
    t.equal(Number(works[0]?.n), SEEDED.length, 'only the seeded works have Work mappings')
    t.comment(`fuzz cases run: ${totals.http} through HTTP inject, ${totals.lambda} through the Lambda handler (${totals.http + totals.lambda} in all)`)
  })
})
