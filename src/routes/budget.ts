import type { Context } from 'aws-lambda'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { INTERNAL_HEADER } from '../plugins/api-keys.js'

/** The header in which the Lambda adapter passes a direct invocation's budget (ms); trusted only on internal requests. */
export const BUDGET_HEADER = `${INTERNAL_HEADER}-budget-ms`

/**
 * A request's time budget in ms: what the Lambda invocation has left minus
 * LAMBDA_TIMEOUT_MARGIN_MS (direct invocations pass it in BUDGET_HEADER; HTTP-shaped events carry
 * their Lambda context), otherwise `httpBudgetMs`, the route's own budget over HTTP.
 */
export function requestBudgetMs(app: FastifyInstance, request: FastifyRequest, httpBudgetMs: number): number {
  const passed = Number(request.headers[BUDGET_HEADER])
  if (app.isInternal(request) && Number.isFinite(passed)) return passed
  const context = (request as { awsLambda?: { context?: Context } }).awsLambda?.context
  if (typeof context?.getRemainingTimeInMillis === 'function') return context.getRemainingTimeInMillis() - app.config.LAMBDA_TIMEOUT_MARGIN_MS
  return httpBudgetMs
}
