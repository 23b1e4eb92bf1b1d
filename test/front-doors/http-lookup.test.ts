/**
 * The look-up API through the Lambda's HTTP events (src/lambda.ts in a child process, as one
 * container): a Function URL / HTTP API (payload 2.0) GET with a percent-encoded path parameter,
 * a GET with a query string, the POST, and an API Gateway REST (payload 1.0) GET; with API keys
 * configured, as a Function URL with AuthType NONE would be. Expected IDs are read from SQL.
 */
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { isolatedConfig, prepareStores } from '../helpers.js'
import { lambdaEnv, startLambdaHost, type LambdaHost } from '../reliability/lambda-host.js'
import { directDatabase } from '../reliability/support.js'

const KEY = 'lookup-lambda-key'

/** A Function URL event (payload 2.0): the raw path and query string as the caller sent them. */
function functionUrl(method: 'GET' | 'POST', rawPath: string, rawQueryString = '', body?: unknown, headers: Record<string, string> = { 'x-api-key': KEY }) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: { host: 'abc.lambda-url.eu-west-1.on.aws', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(rawQueryString ? { queryStringParameters: Object.fromEntries(new URLSearchParams(rawQueryString)) } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc',
      domainName: 'abc.lambda-url.eu-west-1.on.aws',
      http: { method, path: decodeURIComponent(rawPath), protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'test' },
      requestId: `lookup-${method}`,
      routeKey: '$default',
      stage: '$default',
      time: '01/Dec/2026:10:00:00 +0000',
      timeEpoch: 1_795_000_000_000,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  }
}

async function answer(host: LambdaHost, event: unknown): Promise<{ statusCode: number; body: any }> {
  const outcome = await host.invoke(event, 30_000)
  if (!outcome.ok) throw new Error(`the handler threw ${outcome.error.name}: ${outcome.error.message}`)
  const result = outcome.result as { statusCode: number; body: string }
  return { statusCode: result.statusCode, body: JSON.parse(result.body) }
}

t.test('GET /canonical-ids, GET /source-identifiers and POST /source-identifiers/lookup through Function URL and API Gateway events answer as they do over HTTP', async (t) => {
  const config = isolatedConfig('http-lookup')
  const es = await prepareStores(t, config)
  const work = makeWork({ value: 'blambda', nested: 3 })
  await seedSourceWorks(es, config.es_source_index, [work])
  const host = await startLambdaHost(lambdaEnv(config, { API_KEYS: KEY }))
  t.teardown(() => host.close())

  // A mint through the direct invocation, and a legacy ID outside the minting alphabet as db:import stores it.
  const minted = await host.invoke({ sourceIdentifiers: [work.id] }, 30_000)
  t.same(minted.ok && minted.result, { successes: [work.id], failures: [] })
  const db = await directDatabase(t, config.IDENTIFIERS_DATABASE)
  await db.sql("INSERT INTO canonical_ids (CanonicalId, Status) VALUES ('LEG/ACY1', 'assigned'), ('LEG/ACY2', 'assigned')")
  await db.sql("INSERT INTO identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES ('Work', 'calm-record-id', 'c/1 é', 'LEG/ACY1'), ('Work', 'calm-record-id', 'c,2', 'LEG/ACY2')")
  const rows = await db.mappings()
  const idOf = (ontologyType: string, sourceSystem: string, sourceId: string) =>
    rows.find((r) => r.OntologyType === ontologyType && r.SourceSystem === sourceSystem && r.SourceId === sourceId)?.CanonicalId
  const workId = idOf('Work', 'sierra-system-number', 'blambda')
  const conceptId = idOf('Concept', 'lc-names', 'blambda-n2')
  t.ok(workId && conceptId, 'the work and its Person are stored')

  // GET with a query string: a Person is looked up as Concept; the value holds a space, a slash and an é.
  const person = await answer(host, functionUrl('GET', '/source-identifiers', 'ontologyType=Person&identifierType=lc-names&value=blambda-n2'))
  t.equal(person.statusCode, 200)
  t.match(person.body, { canonicalId: conceptId, sourceIdentifier: { ontologyType: 'Concept', identifierType: 'lc-names', value: 'blambda-n2' } })
  const legacy = await answer(host, functionUrl('GET', '/source-identifiers', `ontologyType=Work&identifierType=calm-record-id&value=${encodeURIComponent('c/1 é')}`))
  t.equal(legacy.body.canonicalId, 'LEG/ACY1', 'a percent-encoded value is decoded once, as over HTTP')

  // The query string is read as sent (rawQueryString), not from queryStringParameters, where AWS
  // joins repeats with commas: a comma stays in its value, and a repeat is refused as over HTTP.
  const comma = await answer(host, functionUrl('GET', '/source-identifiers', `ontologyType=Work&identifierType=calm-record-id&value=${encodeURIComponent('c,2')}`))
  t.equal(comma.body.canonicalId, 'LEG/ACY2', 'a value holding a comma is one value')
  const repeated = await answer(host, functionUrl('GET', '/source-identifiers', 'ontologyType=Work&identifierType=calm-record-id&value=c&value=2'))
  t.same(repeated, { statusCode: 400, body: { statusCode: 400, error: 'Bad Request', message: 'querystring/value must be string' } })
  const latin1 = await answer(host, functionUrl('GET', '/source-identifiers', 'ontologyType=Work&identifierType=calm-record-id&value=%E9'))
  t.same(latin1.body.message, 'querystring must be percent-encoded UTF-8')

  // GET with a path parameter, percent-encoded as a Function URL passes it in rawPath.
  const byId = await answer(host, functionUrl('GET', `/canonical-ids/${encodeURIComponent('LEG/ACY1')}`))
  t.equal(byId.statusCode, 200)
  t.match(byId.body, { canonicalId: 'LEG/ACY1', sourceIdentifiers: [{ ontologyType: 'Work', identifierType: 'calm-record-id', value: 'c/1 é' }] })
  const shape = await answer(host, functionUrl('GET', '/canonical-ids/abc'))
  t.same(shape, { statusCode: 400, body: { statusCode: 400, error: 'Bad Request', message: 'params/canonicalId must match pattern "^[!-~]{8}$"' } })
  const unknown = await answer(host, functionUrl('GET', '/canonical-ids/zzzz2222'))
  t.equal(unknown.statusCode, 404)

  // The POST, with a missing identifier.
  const bulk = await answer(host, functionUrl('POST', '/source-identifiers/lookup', '', {
    sourceIdentifiers: [
      { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'blambda' },
      { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'bnever' },
    ],
  }))
  t.equal(bulk.statusCode, 200)
  t.same(bulk.body.found.map((f: { requested: { value: string }; canonicalId: string }) => [f.requested.value, f.canonicalId]), [['blambda', workId]])
  t.same(bulk.body.missing, [{ ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'bnever' }])
  const invalid = await answer(host, functionUrl('POST', '/source-identifiers/lookup', '', { sourceIdentifiers: [] }))
  t.equal(invalid.statusCode, 400)

  // API Gateway REST (payload 1.0): the query string arrives parsed.
  const rest = await answer(host, {
    resource: '/source-identifiers',
    path: '/source-identifiers',
    httpMethod: 'GET',
    headers: { Host: 'api1.execute-api.eu-west-1.amazonaws.com', 'x-api-key': KEY },
    multiValueHeaders: { Host: ['api1.execute-api.eu-west-1.amazonaws.com'], 'x-api-key': [KEY] },
    queryStringParameters: { ontologyType: 'Work', identifierType: 'sierra-system-number', value: 'blambda' },
    multiValueQueryStringParameters: { ontologyType: ['Work'], identifierType: ['sierra-system-number'], value: ['blambda'] },
    pathParameters: null,
    stageVariables: null,
    requestContext: { resourcePath: '/source-identifiers', httpMethod: 'GET', path: '/prod/source-identifiers', stage: 'prod', requestId: 'rest-lookup', identity: { sourceIp: '198.51.100.7' } },
    body: null,
    isBase64Encoded: false,
  })
  t.equal(rest.statusCode, 200)
  t.equal(rest.body.canonicalId, workId)

  // A Function URL with AuthType NONE is not an open door: no key, no answer.
  const anonymous = await answer(host, functionUrl('GET', `/canonical-ids/${workId}`, '', undefined, {}))
  t.equal(anonymous.statusCode, 401)
  const anonymousBulk = await answer(host, functionUrl('POST', '/source-identifiers/lookup', '', { sourceIdentifiers: [{ ontologyType: 'Work', identifierType: 'x', value: 'y' }] }, {}))
  t.equal(anonymousBulk.statusCode, 401)

  const [count] = await db.sql<{ n: number }>('SELECT COUNT(*) AS n FROM identifiers')
  t.equal(Number(count?.n), rows.length, 'the look-ups minted nothing')
})

t.test('GET /source-identifiers through ALB events reads the query string as HTTP does: + is a space, a bad escape is a 400', async (t) => {
  const config = isolatedConfig('http-lookup-alb')
  await prepareStores(t, config)
  const host = await startLambdaHost(lambdaEnv(config))
  t.teardown(() => host.close())
  // The whole app's first look-up waits for the migrations: the schema is in place after it.
  const before = await host.invoke({ httpMethod: 'GET', path: '/canonical-ids/aaaaaaaa', headers: { host: 'alb.example' }, requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/x/y' } }, body: '', isBase64Encoded: false }, 30_000)
  t.equal(before.ok && (before.result as { statusCode: number }).statusCode, 404)
  const db = await directDatabase(t, config.IDENTIFIERS_DATABASE)
  await db.sql("INSERT INTO canonical_ids (CanonicalId, Status) VALUES ('spacebbb', 'assigned'), ('plusbbbb', 'assigned')")
  await db.sql("INSERT INTO identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES ('Work', 't', 'a b', 'spacebbb'), ('Work', 't', 'a+b', 'plusbbbb')")

  // An ALB passes the query parameters as the client sent them: still percent-encoded.
  const alb = (query: Record<string, string>, multi: boolean) => ({
    httpMethod: 'GET',
    path: '/source-identifiers',
    ...(multi
      ? { multiValueQueryStringParameters: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])), multiValueHeaders: { host: ['alb.example'] } }
      : { queryStringParameters: query, headers: { host: 'alb.example' } }),
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/id-minter/abc' } },
    body: '',
    isBase64Encoded: false,
  })
  for (const multi of [false, true]) {
    const mode = multi ? 'multi-value' : 'single-value'
    const space = await answer(host, alb({ ontologyType: 'Work', identifierType: 't', value: 'a+b' }, multi))
    t.equal(space.body.canonicalId, 'spacebbb', `${mode}: value=a+b is "a b", as over HTTP`)
    const plus = await answer(host, alb({ ontologyType: 'Work', identifierType: 't', value: 'a%2Bb' }, multi))
    t.equal(plus.body.canonicalId, 'plusbbbb', `${mode}: value=a%2Bb is "a+b"`)
    const bad = await answer(host, alb({ ontologyType: 'Work', identifierType: 't', value: '%E9' }, multi))
    t.equal(bad.statusCode, 400, `${mode}: a bad escape is answered 400, not thrown`)
  }
})
