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

/** HTTP-shaped events, served by the app as any HTTP request is (API keys included), through @fastify/aws-lambda. */
export function httpFrontDoor(app: FastifyInstance): (event: unknown, context: Context) => Promise<unknown> {
  return awsLambdaFastify(app) as (event: unknown, context: Context) => Promise<unknown>
}
