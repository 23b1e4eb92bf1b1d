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
 * A payload 2.0 event (HTTP API, Function URL) with its query string as the caller sent it, on the
 * path. Its queryStringParameters are decoded, repeats joined by commas, and the adapter splits
 * them again at every comma: `value=a,b` would reach the app as two values (400) and `value=a&value=b`
 * as the same two. Over HTTP the app parses the raw query string; so it does here.
 */
function withRawQueryString(event: unknown): unknown {
  const e = event as { version?: unknown; rawPath?: unknown; rawQueryString?: unknown; queryStringParameters?: unknown }
  if (e.version !== '2.0' || typeof e.rawPath !== 'string' || typeof e.rawQueryString !== 'string' || e.rawQueryString === '') return event
  const { queryStringParameters: _decoded, ...rest } = e
  return { ...rest, rawPath: `${e.rawPath}?${e.rawQueryString}` }
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
