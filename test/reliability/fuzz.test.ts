/**
 * Hostile input, property-based: POST /mint (through inject) and the Lambda handler (direct
 * invocations and HTTP events) get random JSON of every type, wrong content types, broken JSON,
 * huge arrays and bodies, deep nesting, control characters and unicode edge cases. A body that is
 * invalid must be answered 4xx with the JSON error shape (Lambda: the structured invalid-input
 * result); a valid one 200 with each requested work a success (seeded) or a "not found" failure.
 * Nothing may be a 5xx, throw, or crash, and the app stays healthy afterwards.
 */
import fc from 'fast-check'
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { setup } from '../helpers.js'
import { lambdaEnv, startLambdaHost, type Invocation, type LambdaHost } from './lambda-host.js'

const BODY_LIMIT = 1024 * 1024
const SEEDED = ['fuzz-w1', 'fuzz-w2']
const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const runs = (n: number) => Math.max(1, Math.round(n * Number(process.env.FUZZ_SCALE ?? 1)))

/** Printable ASCII only (a raw U+2028 in a message would break TAP's lines). */
const printable = (text: string) => text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

// ---------------------------------------------------------------------------------------------
// The oracle: what the answer must be, from the request alone.

type Verdict = 'valid' | 'invalid' | 'either'

/** A JSON body Fastify's parser refuses: an own __proto__ key, or constructor.prototype. */
function poisoned(value: unknown): boolean {
  const stack: unknown[] = [value]
  for (let n = 0; stack.length > 0 && n < 5_000_000; n++) {
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

/** The rules: sourceIdentifiers 1..100 non-empty, not whitespace-only strings; jobId absent or a non-empty string. */
function validMintBody(v: unknown): v is { sourceIdentifiers: string[]; jobId?: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const body = v as Record<string, unknown>
  if (!Object.hasOwn(body, 'sourceIdentifiers')) return false
  const ids = body.sourceIdentifiers
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > 100) return false
  if (!ids.every((s) => typeof s === 'string' && s.length > 0 && /\S/u.test(s))) return false
  if (Object.hasOwn(body, 'jobId') && !(typeof body.jobId === 'string' && body.jobId.length > 0)) return false
  return true
}

interface HttpCase {
  method?: 'POST' | 'GET' | 'PUT' | 'DELETE' | 'PATCH'
  url?: string
  contentType?: string
  body?: string | Buffer
}

/** The body as the server decodes it: a string travels as UTF-8, so a lone surrogate arrives as U+FFFD. */
function decodeBody(body: string | Buffer | undefined): string {
  return body === undefined ? '' : (Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')).toString('utf8')
}

function verdictOf(c: HttpCase): { verdict: Verdict; parsed?: { sourceIdentifiers: string[]; jobId?: string } } {
  if ((c.method ?? 'POST') !== 'POST' || (c.url ?? '/mint').split('?')[0] !== '/mint') return { verdict: 'invalid' }
  const bytes = c.body === undefined ? 0 : Buffer.isBuffer(c.body) ? c.body.length : Buffer.byteLength(c.body)
  if (bytes > BODY_LIMIT) return { verdict: 'invalid' }
  const media = c.contentType?.split(';')[0]?.trim().toLowerCase()
  // text/plain is parsed as a string (not an object); anything else but JSON is a 415.
  if (media !== 'application/json') return { verdict: 'invalid' }
  let text = decodeBody(c.body)
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { verdict: 'invalid' }
  }
  if (poisoned(value) || !validMintBody(value)) return { verdict: 'invalid' }
  const plain = c.contentType === 'application/json' && !Buffer.isBuffer(c.body) && text === c.body && text.isWellFormed()
  return { verdict: plain ? 'valid' : 'either', parsed: value }
}

/** A 200 answer must list every distinct trimmed id once: seeded ones succeed, the rest are not found. */
function checkMintResult(result: unknown, request: { sourceIdentifiers: string[]; jobId?: string }): string | undefined {
  const body = result as { successes?: unknown; failures?: unknown; jobId?: unknown }
  const distinct = [...new Set(request.sourceIdentifiers.map((s) => s.trim()))]
  const successes = distinct.filter((id) => SEEDED.includes(id))
  const failed = distinct.filter((id) => !SEEDED.includes(id))
  if (JSON.stringify(body.successes) !== JSON.stringify(successes)) return `successes ${JSON.stringify(body.successes)} != ${JSON.stringify(successes)}`
  if (!Array.isArray(body.failures) || body.failures.length !== failed.length) return `failures ${JSON.stringify(body.failures)?.slice(0, 300)}`
  for (const [i, failure] of (body.failures as Array<{ sourceIdentifier: unknown; error: unknown }>).entries()) {
    if (failure.sourceIdentifier !== failed[i]) return `failure ${i} is for ${JSON.stringify(failure.sourceIdentifier)}, expected ${JSON.stringify(failed[i])}`
    if (typeof failure.error !== 'string' || !failure.error.startsWith(`Failed to mint ID for ${failed[i]}: not found in `)) return `failure ${i}: ${String(failure.error)}`
  }
  if (request.jobId !== undefined ? body.jobId !== request.jobId : Object.hasOwn(body, 'jobId')) return `jobId ${String(body.jobId)}`
  return undefined
}

/** Throws, describing the case, when an HTTP answer breaks the rules. */
function checkHttpAnswer(c: HttpCase, status: number, contentType: string | undefined, text: string, stats: Stats): void {
  const { verdict, parsed } = verdictOf(c)
  stats.count(verdict, status)
  const describe = () =>
    printable(`${c.method ?? 'POST'} ${c.url ?? '/mint'} [${c.contentType}] ${JSON.stringify(decodeBody(c.body).slice(0, 300))} -> ${status} ${text.slice(0, 300)} (expected ${verdict})`)
  if (status >= 500) throw new Error(`5xx: ${describe()}`)
  if (verdict === 'invalid' && status === 200) throw new Error(`invalid body accepted: ${describe()}`)
  if (verdict === 'valid' && status !== 200) throw new Error(`valid body refused: ${describe()}`)
  if (status === 200) {
    if (!parsed) throw new Error(`200 without a valid body: ${describe()}`)
    const problem = checkMintResult(JSON.parse(text), parsed)
    if (problem) throw new Error(`${problem}: ${describe()}`)
    return
  }
  if (status < 400 || status >= 500) throw new Error(`not a 4xx: ${describe()}`)
  if (!contentType?.startsWith('application/json')) throw new Error(`error answer is not JSON (${contentType}): ${describe()}`)
  const error = JSON.parse(text) as Record<string, unknown>
  if (error.statusCode !== status || typeof error.error !== 'string' || typeof error.message !== 'string' || error.message.length === 0) {
    throw new Error(`error body is not {statusCode, error, message}: ${describe()}`)
  }
}

/** Throws when a direct Lambda invocation's outcome breaks the rules. */
function checkLambdaAnswer(eventJson: string, outcome: Invocation, stats: Stats): void {
  const event = JSON.parse(eventJson) as unknown
  // The handler re-serialises the event and posts it as JSON; judge that text as a body.
  let replayed: string | undefined
  try {
    replayed = JSON.stringify(event) ?? 'null'
  } catch {
    replayed = undefined
  }
  const { verdict, parsed } = replayed === undefined ? { verdict: 'invalid' as Verdict, parsed: undefined } : verdictOf({ contentType: 'application/json', body: replayed })
  const describe = () => printable(`${eventJson.slice(0, 300)} -> ${JSON.stringify(outcome).slice(0, 400)} (expected ${verdict})`)
  if (!outcome.ok) {
    stats.count(verdict, 'threw')
    throw new Error(`handler threw ${outcome.error.name}: ${outcome.error.message}: ${describe()}`)
  }
  const result = outcome.result as { successes?: unknown; failures?: Array<{ sourceIdentifier?: unknown; error?: unknown }>; jobId?: unknown }
  const invalidShape =
    Array.isArray(result.successes) &&
    result.successes.length === 0 &&
    Array.isArray(result.failures) &&
    result.failures.length === 1 &&
    result.failures[0]?.sourceIdentifier === '' &&
    typeof result.failures[0]?.error === 'string' &&
    result.failures[0].error.startsWith('Invalid input: ')
  stats.count(verdict, invalidShape ? 'invalid-input' : 'minted')
  if (verdict === 'valid') {
    const problem = checkMintResult(result, parsed as { sourceIdentifiers: string[]; jobId?: string })
    if (problem) throw new Error(`${problem}: ${describe()}`)
    return
  }
  if (verdict === 'either' && !invalidShape) return
  if (!invalidShape) throw new Error(`not the structured invalid-input result: ${describe()}`)
  const jobId = typeof event === 'object' && event !== null ? (event as Record<string, unknown>).jobId : undefined
  const expectedJobId = typeof jobId === 'string' ? jobId : undefined
  if (expectedJobId !== undefined ? result.jobId !== expectedJobId : Object.hasOwn(result, 'jobId')) throw new Error(`jobId not echoed: ${describe()}`)
  const keys = Object.keys(result).sort().join(',')
  if (keys !== (expectedJobId !== undefined ? 'failures,jobId,successes' : 'failures,successes')) throw new Error(`extra fields ${keys}: ${describe()}`)
}

class Stats {
  cases = 0
  readonly outcomes = new Map<string, number>()
  count(verdict: Verdict, answer: number | string) {
    this.cases++
    const key = `${verdict}->${answer}`
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1)
  }
  summary() {
    return [...this.outcomes.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ')
  }
}

// ---------------------------------------------------------------------------------------------
// Generators: mostly invalid bodies, some valid.

const ABSENT = Symbol('absent')
const WHITESPACE = [' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff']
const whitespaceOnly = fc.array(fc.constantFrom(...WHITESPACE), { minLength: 1, maxLength: 4 }).map((a) => a.join(''))
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
  'fuzz-w1',
)
const piece = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), loneSurrogate, control, nasty, whitespaceOnly)
const hostileString = fc.oneof(
  { weight: 8, arbitrary: fc.array(piece, { maxLength: 4 }).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => 'x'.repeat(n)) },
)
const goodId = fc.oneof(
  fc.constantFrom(...SEEDED, ' fuzz-w1 ', 'fuzz-w2\t', 'Work[sierra-system-number/b1000001]'),
  fc.string({ minLength: 1, maxLength: 24 }).filter((s) => /\S/u.test(s)),
)
const idItem = fc.oneof(
  { weight: 10, arbitrary: goodId },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
)
const sourceIdentifiers = fc.oneof(
  { weight: 4, arbitrary: fc.array(idItem, { minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.array(goodId, { minLength: 95, maxLength: 130 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>([], ABSENT, null, '', 'fuzz-w1', {}, [[]], [['fuzz-w1']], [null], [1], [true]) },
)
const jobId = fc.oneof(
  { weight: 4, arbitrary: fc.constant<unknown>(ABSENT) },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
)
const extraKey = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'sourceIdentifier', 'SourceIdentifiers', 'httpMethodX'),
)
const extraValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ prototype: { polluted: true } }), fc.constant({ polluted: true }))
const extras = fc.array(fc.tuple(extraKey, extraValue), { maxLength: 3 })

/** A JSON text shaped like a mint request (keys written out, so `__proto__` survives as a key). */
const mintShapedText = fc.record({ ids: sourceIdentifiers, job: jobId, extra: extras, idsFirst: fc.boolean() }).map(({ ids, job, extra, idsFirst }) => {
  const entries: Array<[string, unknown]> = []
  if (ids !== ABSENT) entries.push(['sourceIdentifiers', ids])
  if (job !== ABSENT) entries.push(['jobId', job])
  if (!idsFirst) entries.reverse()
  entries.push(...extra)
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`
})
const anyJsonText = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v))
/** Valid-looking JSON, then broken: truncated, a character dropped, inserted or replaced. */
const brokenJsonText = fc
  .tuple(mintShapedText, fc.nat(), fc.constantFrom('truncate', 'drop', 'insert', 'replace'), fc.constantFrom('{', '}', '"', ',', ':', '\\', '\u0000', ']', 'x', '\ud800'))
  .map(([text, at, how, ch]) => {
    const i = text.length === 0 ? 0 : at % text.length
    if (how === 'truncate') return text.slice(0, i)
    if (how === 'drop') return text.slice(0, i) + text.slice(i + 1)
    if (how === 'insert') return text.slice(0, i) + ch + text.slice(i)
    return text.slice(0, i) + ch + text.slice(i + 1)
  })
const contentType = fc.constantFrom<string | undefined>(
  'application/json',
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/octet-stream',
  'application/jsonx',
  'application/vnd.api+json',
  '',
  undefined,
)
const httpCase: fc.Arbitrary<HttpCase> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ contentType, body: mintShapedText }) },
  { weight: 2, arbitrary: fc.record({ contentType, body: anyJsonText }) },
  { weight: 2, arbitrary: fc.record({ contentType, body: brokenJsonText }) },
  { weight: 1, arbitrary: fc.record({ contentType, body: fc.string({ unit: 'binary', maxLength: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ contentType, body: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      method: fc.constantFrom('GET' as const, 'PUT' as const, 'DELETE' as const, 'PATCH' as const, 'POST' as const),
      url: fc.constantFrom('/mint/', '/mint/x', '/Mint', '/mint?x=1', '//mint', '/mint%00', '/'),
      contentType,
      body: mintShapedText,
    }),
  },
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
    json(JSON.stringify({ sourceIdentifiers: [...SEEDED, ...Array.from({ length: 98 }, (_, i) => `n${i}`)] })),
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
    json('{"sourceIdentifiers":["\\u0000"]}'),
    json('{"sourceIdentifiers":["\\u0001\\u0002\\u001f\\u007f"]}'),
    json('{"sourceIdentifiers":["\u0001raw control"]}'),
    json('{"sourceIdentifiers":["\\u00a0\\u2028\\u3000\\ufeff"]}'),
    json('{"sourceIdentifiers":["\\u200b"]}'),
    json('{"sourceIdentifiers":[" fuzz-w1 ","fuzz-w1","\\tfuzz-w2\\n"]}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":""}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":"   "}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":null}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"jobId":7}'),
    json('{"sourceIdentifiers":[],"sourceIdentifiers":["fuzz-w1"]}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"__proto__":{"polluted":true}}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"\\u005f_proto__":{"polluted":true}}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"a":{"constructor":{"prototype":{"polluted":true}}}}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"constructor":null}'),
    json('{"sourceIdentifiers":["fuzz-w1"],"n":1e400,"m":-0,"k":123456789012345678901234567890}'),
    json('\ufeff{"sourceIdentifiers":["fuzz-w1"]}'),
    json('{"sourceIdentifiers":["fuzz-w1"]} trailing'),
    json('{"sourceIdentifiers":["fuzz-w1"]}\u0000'),
    json("{'sourceIdentifiers':['fuzz-w1']}"),
    json('{"sourceIdentifiers":["fuzz-w1",]}'),
    json('null'),
    json('"fuzz-w1"'),
    json('["fuzz-w1"]'),
    json(''),
    { contentType: 'application/json' },
    { contentType: 'application/json', body: Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]) },
    { contentType: 'application/json', body: Buffer.concat([Buffer.from('{"sourceIdentifiers":["'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"]}')]) },
    { contentType: 'application/json', body: Buffer.from(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), 'utf16le') },
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), 'text/plain'),
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), 'application/x-www-form-urlencoded'),
    json('sourceIdentifiers=fuzz-w1', 'application/x-www-form-urlencoded'),
    json(JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }), 'application/json; charset=utf-16'),
    { method: 'GET', url: '/mint' },
    { method: 'PUT', url: '/mint', contentType: 'application/json', body: JSON.stringify({ sourceIdentifiers: ['fuzz-w1'] }) },
  ]
}

// ---------------------------------------------------------------------------------------------

t.test('hostile input never gets a 5xx, a throw or a crash', async (t) => {
  const ctx = await setup(t, 'fuzz')
  await ctx.seed(SEEDED.map((id, i) => makeWork({ id, value: `bfuzz${i}`, nested: 2 })))
  t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} reproduces)`)
  const totals = { http: 0, lambda: 0 }

  const inject = async (c: HttpCase, stats: Stats) => {
    const headers: Record<string, string> = {}
    if (c.contentType !== undefined) headers['content-type'] = c.contentType
    const response = await ctx.app.inject({ method: c.method ?? 'POST', url: c.url ?? '/mint', headers, ...(c.body !== undefined ? { payload: c.body } : {}) })
    checkHttpAnswer(c, response.statusCode, response.headers['content-type'] as string | undefined, response.body, stats)
  }

  await t.test('POST /mint (inject): property-based bodies, content types and methods', async (t) => {
    const stats = new Stats()
    const started = Date.now()
    await t.resolves(
      fc.assert(
        fc.asyncProperty(httpCase, async (c) => {
          await inject(c, stats)
        }),
        { numRuns: runs(4000), seed, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false },
      ),
    )
    totals.http += stats.cases
    t.comment(`${stats.cases} HTTP cases in ${Date.now() - started} ms: ${stats.summary()}`)
    t.ok(stats.cases >= runs(300), 'ran a meaningful number of cases')
  })

  await t.test('POST /mint (inject): 10,000-item arrays, multi-megabyte bodies, deep nesting, surrogates, control characters', async (t) => {
    const stats = new Stats()
    for (const c of edgeCases()) {
      await t.resolves(inject(c, stats), printable(`${c.method ?? 'POST'} ${c.url ?? '/mint'} [${c.contentType}] ${decodeBody(c.body).slice(0, 60).replace(/\s+/g, ' ')}${decodeBody(c.body).length > 60 ? '...' : ''}`))
    }
    totals.http += stats.cases
    t.comment(`${stats.cases} edge cases: ${stats.summary()}`)
    // Spot checks of the exact statuses a client relies on.
    const status = async (body: string) =>
      (await ctx.app.inject({ method: 'POST', url: '/mint', headers: { 'content-type': 'application/json' }, payload: body })).statusCode
    t.equal(await status(JSON.stringify({ sourceIdentifiers: Array.from({ length: 10_000 }, (_, i) => `w${i}`) })), 400, '10,000 identifiers: 400')
    t.equal(await status(JSON.stringify({ sourceIdentifiers: ['y'.repeat(2 * 1024 * 1024)] })), 413, '2 MB body: 413')
    t.equal(await status('{"sourceIdentifiers":["fuzz-w1"],"__proto__":{"polluted":true}}'), 400, '__proto__ key: 400')
  })

  const lambda: LambdaHost = await startLambdaHost(lambdaEnv(ctx.config))
  t.teardown(() => lambda.close())
  await t.test('Lambda direct invocations: property-based events', async (t) => {
    const stats = new Stats()
    const started = Date.now()
    const event = fc.oneof(
      { weight: 6, arbitrary: mintShapedText },
      { weight: 2, arbitrary: anyJsonText },
      { weight: 1, arbitrary: hostileString.map((s) => JSON.stringify(s)) },
    )
    await t.resolves(
      fc.assert(
        fc.asyncProperty(event, async (json) => {
          checkLambdaAnswer(json, await lambda.invokeJson(json), stats)
        }),
        { numRuns: runs(1500), seed, interruptAfterTimeLimit: 25_000, markInterruptAsFailure: false },
      ),
    )
    totals.lambda += stats.cases
    t.comment(`${stats.cases} Lambda direct cases in ${Date.now() - started} ms: ${stats.summary()}`)
    t.ok(lambda.alive(), 'the container is still running')
  })

  await t.test('Lambda direct invocations: extremes (huge, deep, surrogates)', async (t) => {
    const host = lambda
    const stats = new Stats()
    const events: Array<[string, string]> = [
      ['10,000 identifiers', JSON.stringify({ sourceIdentifiers: Array.from({ length: 10_000 }, (_, i) => `w${i}`), jobId: 'big' })],
      ['2 MB identifier', JSON.stringify({ sourceIdentifiers: ['y'.repeat(2 * 1024 * 1024)], jobId: 'huge' })],
      ['lone surrogates', '{"sourceIdentifiers":["\\ud800","fuzz-w1"],"jobId":"\\udfff"}'],
      ['control characters', '{"sourceIdentifiers":["\\u0000\\u0001","fuzz-w2"]}'],
      ['null', 'null'],
      ['a number', '42'],
      ['an array', '["fuzz-w1"]'],
      ['nesting 1,000 deep beside valid ids', `{"sourceIdentifiers":["fuzz-w1"],"deep":${nest(1_000)}}`],
      ['nesting 10,000 deep beside valid ids', `{"sourceIdentifiers":["fuzz-w1"],"deep":${nest(10_000)}}`],
      ['nesting 100,000 deep', nest(100_000)],
      ['objects nested 10,000 deep as the event', `{"jobId":"deep","x":${nestObjects(10_000)}}`],
    ]
    for (const [what, json] of events) {
      const outcome = await host.invokeJson(json)
      await t.resolves((async () => checkLambdaAnswer(json, outcome, stats))(), what)
    }
    totals.lambda += stats.cases
    t.ok(host.alive(), 'the container is still running')
  })

  await t.test('Lambda: a direct invocation is not mistaken for an HTTP event because of a stray field', async (t) => {
    const host = lambda
    for (const event of [
      { sourceIdentifiers: ['fuzz-w1'], requestContext: {} },
      { sourceIdentifiers: ['fuzz-w1'], requestContext: { stateMachine: 'x' } },
      { sourceIdentifiers: [], requestContext: {} },
    ]) {
      const outcome = await host.invoke(event)
      totals.lambda++
      t.ok(outcome.ok, 'answered, not thrown')
      const result = (outcome.ok ? outcome.result : {}) as Record<string, unknown>
      t.ok(Array.isArray(result.successes) && Array.isArray(result.failures), `${JSON.stringify(event)} gets a mint result, not an HTTP response: ${JSON.stringify(result).slice(0, 160)}`)
    }
  })

  await t.test('Lambda HTTP events (API Gateway v1 and v2): property-based bodies', async (t) => {
    const host = lambda
    const stats = new Stats()
    const started = Date.now()
    const httpEvent = fc.record({
      c: httpCase.filter((c) => c.method === undefined),
      version: fc.constantFrom('1.0', '2.0'),
      base64: fc.boolean(),
    })
    await t.resolves(
      fc.assert(
        fc.asyncProperty(httpEvent, async ({ c, version, base64 }) => {
          const raw = c.body === undefined ? undefined : Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body, 'utf8')
          // A string body reaches the app as UTF-8; judge what arrives.
          const arrives: HttpCase = { contentType: c.contentType, ...(raw ? { body: base64 || Buffer.isBuffer(c.body) ? raw : raw.toString('utf8') } : {}) }
          const headers: Record<string, string> = c.contentType !== undefined ? { 'content-type': c.contentType } : {}
          const body = raw === undefined ? undefined : base64 || Buffer.isBuffer(c.body) ? raw.toString('base64') : raw.toString('utf8')
          const isBase64Encoded = raw !== undefined && (base64 || Buffer.isBuffer(c.body))
          const event =
            version === '1.0'
              ? { httpMethod: 'POST', path: '/mint', headers, body, isBase64Encoded, requestContext: { requestId: 'r' } }
              : { version: '2.0', routeKey: 'POST /mint', rawPath: '/mint', rawQueryString: '', headers, body, isBase64Encoded, requestContext: { http: { method: 'POST', path: '/mint' } } }
          const outcome = await host.invoke(event)
          if (!outcome.ok) throw new Error(`HTTP event threw ${outcome.error.name}: ${outcome.error.message}`)
          const response = outcome.result as { statusCode: number; headers?: Record<string, string>; body: string; isBase64Encoded?: boolean }
          const text = response.isBase64Encoded ? Buffer.from(response.body, 'base64').toString('utf8') : response.body
          checkHttpAnswer(arrives, response.statusCode, response.headers?.['content-type'], text, stats)
        }),
        { numRuns: runs(1000), seed, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false },
      ),
    )
    totals.lambda += stats.cases
    t.comment(`${stats.cases} Lambda HTTP cases in ${Date.now() - started} ms: ${stats.summary()}`)
    t.ok(host.alive(), 'the container is still running')
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
