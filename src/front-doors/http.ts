import awsLambdaFastify from '@fastify/aws-lambda'
import type { Context } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'

/**
 * API Gateway REST (v1) and ALB events carry httpMethod; HTTP API (v2) and Function URL events
 * carry requestContext.http.method. Any other requestContext is just a field of a direct invocation.
 */
export function isHttpEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false
  const e = event as Record<string, unknown>
  const requestContext = e.requestContext as { http?: { method?: unknown } } | null | undefined
  return typeof e.httpMethod === 'string' || typeof requestContext?.http?.method === 'string'
}

interface HttpEventShape {
  multiValueHeaders?: unknown
  requestContext?: { elb?: unknown }
}

interface HttpAnswer {
  headers?: Record<string, unknown>
  multiValueHeaders?: Record<string, unknown>
  [field: string]: unknown
}

/**
 * The event with its query string on the path, as the caller sent it, for the app to parse as it
 * parses an HTTP request's (`+` a space, a bad %-escape a 400), instead of the adapter's reading:
 * - payload 2.0 (HTTP API, Function URL): queryStringParameters are decoded with repeats joined by
 *   commas, and the adapter splits them at every comma (`value=a,b` became two values); the raw
 *   query string is in rawQueryString;
 * - ALB: the parameters arrive as sent, still percent-encoded, and the adapter decodes them with
 *   decodeURIComponent, which leaves `+` a plus and throws on a bad escape (the invocation failed).
 */
function withRawQueryString(event: unknown): unknown {
  const e = event as {
    version?: unknown
    rawPath?: unknown
    rawQueryString?: unknown
    path?: unknown
    queryStringParameters?: unknown
    multiValueQueryStringParameters?: unknown
    requestContext?: { elb?: unknown }
  }
  if (e.version === '2.0' && typeof e.rawPath === 'string' && typeof e.rawQueryString === 'string' && e.rawQueryString !== '') {
    const { queryStringParameters: _decoded, ...rest } = e
    return { ...rest, rawPath: `${e.rawPath}?${e.rawQueryString}` }
  }
  if (e.requestContext?.elb !== undefined && typeof e.path === 'string') {
    const pairs: string[] = []
    const multi = e.multiValueQueryStringParameters
    const single = e.queryStringParameters
    if (typeof multi === 'object' && multi !== null) {
      for (const [name, values] of Object.entries(multi as Record<string, unknown>)) {
        for (const value of Array.isArray(values) ? values : []) pairs.push(`${name}=${String(value)}`)
      }
    } else if (typeof single === 'object' && single !== null) {
      for (const [name, value] of Object.entries(single as Record<string, unknown>)) pairs.push(`${name}=${String(value)}`)
    }
    const { queryStringParameters: _single, multiValueQueryStringParameters: _multi, ...rest } = e
    return pairs.length === 0 ? rest : { ...rest, path: `${e.path}?${pairs.join('&')}` }
  }
  return event
}

/**
 * HTTP-shaped events, served by the app as any HTTP request is (API keys included), through
 * @fastify/aws-lambda, with answers in the shape each kind of event expects:
 * - an event with multiValueHeaders (API Gateway REST, an ALB target group with multi-value
 *   headers on) has its headers read from there, single values included: an ALB in multi-value
 *   mode sends no `headers` at all, and without its content-type a POST /mint was answered 415;
 * - the answer carries multiValueHeaders for such events (and, for the ALB, only those: it reads
 *   the field of its mode), and `headers` alone for HTTP API v2, Function URL and single-value
 *   ALB events.
 */
export function httpFrontDoor(app: FastifyInstance): (event: unknown, context: Context) => Promise<unknown> {
  // One adapter: it decorates the request (awsLambda: the invocation's context, for the mint's budget) once per app.
  const serve = awsLambdaFastify(app, { albMultiValueHeaders: true }) as (event: unknown, context: Context) => Promise<HttpAnswer>
  return async (event, context) => {
    const answer = await serve(withRawQueryString(event), context)
    const { multiValueHeaders, requestContext } = event as HttpEventShape
    if (typeof multiValueHeaders !== 'object' || multiValueHeaders === null) {
      delete answer.multiValueHeaders
    } else if (requestContext?.elb !== undefined) {
      delete answer.headers
    }
    return answer
  }
}
