/**
 * Every HTTP-shaped event AWS documents, each with a real POST /mint through src/lambda.ts in a
 * child process: API Gateway REST (payload 1.0) with and without multiValueHeaders, HTTP API
 * (payload 2.0), a Function URL, an ALB target group with multi-value headers off and on, and
 * base64 bodies for each. The answer must be a 200 mint whose work is in the database, in the shape
 * the event's kind reads (an ALB in multi-value mode reads only multiValueHeaders).
 */
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { isolatedConfig, prepareStores } from '../helpers.js'
import { lambdaEnv, startLambdaHost } from '../reliability/lambda-host.js'
import { directDatabase, rowKey, workKeys } from '../reliability/support.js'

type Form = 'rest' | 'rest-single' | 'http-api' | 'function-url' | 'alb' | 'alb-multi'

/** The event each form sends for POST /mint with a JSON body (examples in the AWS Lambda and API Gateway developer guides). */
function event(form: Form, json: string, base64: boolean): Record<string, unknown> {
  const body = base64 ? Buffer.from(json).toString('base64') : json
  const headers = { 'content-type': 'application/json', host: 'minter.example.org', 'x-forwarded-for': '198.51.100.7', accept: 'application/json' }
  const multi = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]]))
  switch (form) {
    case 'rest':
    case 'rest-single':
      return {
        resource: '/mint',
        path: '/mint',
        httpMethod: 'POST',
        headers: { 'Content-Type': 'application/json', Host: 'minter.example.org' },
        ...(form === 'rest' ? { multiValueHeaders: { 'Content-Type': ['application/json'], Host: ['minter.example.org'] } } : {}),
        queryStringParameters: null,
        multiValueQueryStringParameters: null,
        pathParameters: null,
        stageVariables: null,
        requestContext: { resourcePath: '/mint', httpMethod: 'POST', path: '/prod/mint', stage: 'prod', requestId: `rest-${form}`, identity: { sourceIp: '198.51.100.7' } },
        body,
        isBase64Encoded: base64,
      }
    case 'http-api':
    case 'function-url':
      return {
        version: '2.0',
        routeKey: form === 'http-api' ? 'POST /mint' : '$default',
        rawPath: '/mint',
        rawQueryString: '',
        headers,
        requestContext: {
          accountId: form === 'http-api' ? '123456789012' : 'anonymous',
          apiId: 'api1',
          domainName: form === 'http-api' ? 'api1.execute-api.eu-west-1.amazonaws.com' : 'abc.lambda-url.eu-west-1.on.aws',
          http: { method: 'POST', path: '/mint', protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'test' },
          requestId: `v2-${form}`,
          routeKey: form === 'http-api' ? 'POST /mint' : '$default',
          stage: '$default',
          time: '01/Dec/2026:10:00:00 +0000',
          timeEpoch: 1_795_000_000_000,
        },
        body,
        isBase64Encoded: base64,
      }
    case 'alb':
      return { requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/minter/1' } }, httpMethod: 'POST', path: '/mint', queryStringParameters: {}, headers, body, isBase64Encoded: base64 }
    case 'alb-multi':
      return { requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/minter/1' } }, httpMethod: 'POST', path: '/mint', multiValueQueryStringParameters: {}, multiValueHeaders: multi, body, isBase64Encoded: base64 }
  }
}

interface Answer {
  statusCode: number
  headers?: Record<string, string>
  multiValueHeaders?: Record<string, string[]>
  body: string
  isBase64Encoded?: boolean
}

t.test('POST /mint from every HTTP-shaped event form, plain and base64 bodies: a real mint, answered in the form the event expects', async (t) => {
  const config = isolatedConfig('http-forms')
  const es = await prepareStores(t, config)
  const forms: Form[] = ['rest', 'rest-single', 'http-api', 'function-url', 'alb', 'alb-multi']
  const works = forms.flatMap((form) => [false, true].map((base64) => ({ form, base64, ...makeWork({ value: `bhttp-${form}-${base64 ? 'b64' : 'text'}`, nested: 1 }) })))
  await seedSourceWorks(es, config.es_source_index, works)
  const host = await startLambdaHost(lambdaEnv(config))
  t.teardown(() => host.close())

  for (const { form, base64, id } of works) {
    const what = `${form}${base64 ? ', base64 body' : ''}`
    const outcome = await host.invoke(event(form, JSON.stringify({ sourceIdentifiers: [id], jobId: what }), base64), 30_000)
    if (!outcome.ok) {
      t.fail(`${what}: threw ${outcome.error.name}: ${outcome.error.message}`)
      continue
    }
    const answer = outcome.result as Answer
    t.equal(answer.statusCode, 200, `${what}: 200`)
    t.same(JSON.parse(answer.body), { successes: [id], failures: [], jobId: what }, `${what}: the work was minted`)
    if (form === 'alb-multi') {
      t.notOk('headers' in answer, `${what}: no single-value headers (the ALB reads multiValueHeaders in this mode)`)
      t.match(answer.multiValueHeaders?.['content-type'], [/^application\/json/], `${what}: the content type in multiValueHeaders`)
      t.ok(Object.values(answer.multiValueHeaders ?? {}).every((v) => Array.isArray(v)), `${what}: every value a list`)
    } else if (form === 'rest') {
      t.match(answer.headers?.['content-type'], /^application\/json/, `${what}: headers`)
      t.match(answer.multiValueHeaders?.['content-type'], [/^application\/json/], `${what}: and multiValueHeaders, as API Gateway merges them`)
    } else {
      t.match(answer.headers?.['content-type'], /^application\/json/, `${what}: the content type in headers`)
      t.notOk('multiValueHeaders' in answer, `${what}: no multiValueHeaders, which this form does not read`)
    }
    t.equal(answer.isBase64Encoded, false, `${what}: a text answer`)
  }

  const mapping = new Map((await (await directDatabase(t, config.IDENTIFIERS_DATABASE)).mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  t.equal(works.filter((w) => mapping.has(workKeys(w.work).root)).length, works.length, 'every work has its canonical ID in the database')
})

t.test('an ALB multi-value event whose body is not JSON is refused as any HTTP request is, in multiValueHeaders', async (t) => {
  const config = isolatedConfig('http-forms-415')
  await prepareStores(t, config)
  const host = await startLambdaHost(lambdaEnv(config))
  t.teardown(() => host.close())
  const plain = event('alb-multi', '<sourceIdentifiers/>', false)
  ;(plain.multiValueHeaders as Record<string, string[]>)['content-type'] = ['application/xml']
  const outcome = await host.invoke(plain, 30_000)
  t.ok(outcome.ok)
  const answer = (outcome as { result: Answer }).result
  t.equal(answer.statusCode, 415)
  t.match(JSON.parse(answer.body), { statusCode: 415, error: 'Unsupported Media Type' })
  t.match(answer.multiValueHeaders?.['content-type'], [/^application\/json/])
})
