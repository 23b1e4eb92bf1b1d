import type { Context } from 'aws-lambda'
import t from 'tap'
import { makeWork } from '../fixtures/works.js'
import { localEnv } from '../fixtures/local-env.js'
import { isolatedConfig, prepareStores } from './helpers.js'
import { seedSourceWorks } from '../fixtures/indices.js'

const context = { awsRequestId: 'lambda-request-1' } as Context

// The handler builds its app from the environment when the module is first imported.
const config = isolatedConfig('lambda')
Object.assign(process.env, localEnv, {
  IDENTIFIERS_DATABASE: config.IDENTIFIERS_DATABASE,
  es_source_index: config.es_source_index,
  es_identified_index: config.es_identified_index,
  LOG_LEVEL: 'silent',
})

t.test('lambda handler', async (t) => {
  const es = await prepareStores(t, config)
  const work = makeWork({ value: 'b1', nested: 2 })
  await seedSourceWorks(es, config.es_source_index, [work])
  const { handler, ready } = await import('../src/lambda.js')
  const app = await ready
  t.teardown(() => app.close())

  t.test('answers a Step Functions invocation with the mint result', async (t) => {
    const result = await handler({ sourceIdentifiers: [work.id, 'missing'], jobId: 'sfn-1' }, context)
    t.same(result, {
      successes: [work.id],
      failures: [{ sourceIdentifier: 'missing', error: `Failed to mint ID for missing: not found in ${config.es_source_index}` }],
      jobId: 'sfn-1',
    })
  })

  t.test('answers invalid input with a structured failure instead of throwing', async (t) => {
    const cases: Array<[unknown, RegExp]> = [
      [{ sourceIdentifiers: [] }, /fewer than 1 items/],
      [{ jobId: 'j' }, /sourceIdentifiers/],
      [{ sourceIdentifiers: ['  '] }, /sourceIdentifiers\/0/],
      [{ sourceIdentifiers: [1] }, /must be string/],
      [{ sourceIdentifiers: Array(101).fill('x') }, /more than 100 items/],
      [{ sourceIdentifiers: ['x'], jobId: '' }, /jobId/],
      [null, /body/],
      ['a string', /body/],
    ]
    for (const [event, reason] of cases) {
      const result = (await handler(event, context)) as { successes: string[]; failures: Array<{ sourceIdentifier: string; error: string }> }
      t.same(result.successes, [], JSON.stringify(event)?.slice(0, 40))
      t.equal(result.failures.length, 1)
      t.equal(result.failures[0]?.sourceIdentifier, '')
      t.match(result.failures[0]?.error, /^Invalid input: /)
      t.match(result.failures[0]?.error, reason)
    }
    const withJob = (await handler({ sourceIdentifiers: [], jobId: 'job-7' }, context)) as { jobId?: string }
    t.equal(withJob.jobId, 'job-7', 'jobId echoed on invalid input too')
  })

  t.test('serves HTTP API (v2) events through the same app', async (t) => {
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/health',
      rawQueryString: '',
      headers: { host: 'example.lambda-url.eu-west-1.on.aws' },
      requestContext: { http: { method: 'GET', path: '/health', sourceIp: '127.0.0.1' }, requestId: 'r1' },
      isBase64Encoded: false,
    }
    const response = (await handler(event, context)) as { statusCode: number; body: string }
    t.equal(response.statusCode, 200)
    t.equal(JSON.parse(response.body).status, 'ok')
  })

  t.test('serves API Gateway REST (v1) events: POST /mint', async (t) => {
    const event = {
      httpMethod: 'POST',
      path: '/mint',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sourceIdentifiers: [work.id] }),
      requestContext: { requestId: 'r2' },
      isBase64Encoded: false,
    }
    const response = (await handler(event, context)) as { statusCode: number; body: string }
    t.equal(response.statusCode, 200)
    t.same(JSON.parse(response.body).successes, [work.id])
  })
})

t.test('lambda handler throws DependencyUnavailableError by name when the database is down, so Retry applies', async (t) => {
  // A second instance of the module (the query string makes it distinct), built with an unreachable database.
  process.env.db_port = '1'
  process.env.APPLY_MIGRATIONS = 'false'
  const specifier: string = '../src/lambda.js?database-down'
  const { handler, ready } = (await import(specifier)) as typeof import('../src/lambda.js')
  const app = await ready
  t.teardown(() => app.close())
  const es = await prepareStores(t, config)
  await seedSourceWorks(es, config.es_source_index, [makeWork({ value: 'b2' })])
  await t.rejects(handler({ sourceIdentifiers: ['Work[sierra-system-number/b2]'] }, context), {
    name: 'DependencyUnavailableError',
    message: /Database unavailable/,
  })
})

t.test('lambda handler applies the configured API keys to HTTP-shaped events, not to direct invocations', async (t) => {
  // A third instance of the module, built with API_KEYS set.
  Object.assign(process.env, { db_port: localEnv.db_port, APPLY_MIGRATIONS: 'true', API_KEYS: 'lambda-key-1' })
  t.teardown(() => {
    delete process.env.API_KEYS
  })
  const specifier: string = '../src/lambda.js?api-keys'
  const { handler, ready } = (await import(specifier)) as typeof import('../src/lambda.js')
  const app = await ready
  t.teardown(() => app.close())
  const es = await prepareStores(t, config)
  const work = makeWork({ value: 'b3' })
  await seedSourceWorks(es, config.es_source_index, [work])

  const functionUrl = (headers: Record<string, string>) => ({
    version: '2.0',
    rawPath: '/mint',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    requestContext: { http: { method: 'POST', path: '/mint', sourceIp: '198.51.100.7' }, requestId: 'r3' },
    body: JSON.stringify({ sourceIdentifiers: [work.id] }),
    isBase64Encoded: false,
  })
  const anonymous = (await handler(functionUrl({}), context)) as { statusCode: number; body: string }
  t.equal(anonymous.statusCode, 401, 'a Function URL request without a key is refused')
  const forged = (await handler(functionUrl({ 'x-id-minter-invocation': 'guess' }), context)) as { statusCode: number }
  t.equal(forged.statusCode, 401, 'and so is one that claims to be a direct invocation')
  const keyed = (await handler(functionUrl({ 'x-api-key': 'lambda-key-1' }), context)) as { statusCode: number; body: string }
  t.equal(keyed.statusCode, 200, 'a request with a configured key mints')
  t.same(JSON.parse(keyed.body).successes, [work.id])
  const direct = await handler({ sourceIdentifiers: [work.id] }, context)
  t.same((direct as { successes: string[] }).successes, [work.id], 'a direct invocation (IAM-authorised) needs no key')
})
