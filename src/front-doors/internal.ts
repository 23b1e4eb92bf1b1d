import type { Context } from 'aws-lambda'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { INTERNAL_HEADER } from '../plugins/api-keys.js'
import { BUDGET_HEADER } from '../routes/mint.js'

/**
 * A request a Lambda front door makes to the app for a direct invocation (Step Functions, SQS),
 * through inject: it goes through the same route, schema, logs and metrics as an HTTP request,
 * carries the container's internal token instead of an API key (IAM authorised the invocation),
 * the invocation's request id as its correlation id, and its budget: the invocation's remaining
 * time less LAMBDA_TIMEOUT_MARGIN_MS, so the app answers before Lambda stops it.
 */
export function injectInternal(
  app: FastifyInstance,
  internalToken: string,
  context: Context | undefined,
  request: { method: 'GET' | 'POST'; url: string; payload?: string },
): Promise<LightMyRequestResponse> {
  const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined
  return app.inject({
    method: request.method,
    url: request.url,
    headers: {
      ...(request.payload !== undefined ? { 'content-type': 'application/json' } : {}),
      'x-request-id': context?.awsRequestId ?? '',
      [INTERNAL_HEADER]: internalToken,
      ...(remaining !== undefined ? { [BUDGET_HEADER]: String(remaining - app.config.LAMBDA_TIMEOUT_MARGIN_MS) } : {}),
    },
    ...(request.payload !== undefined ? { payload: request.payload } : {}),
  })
}
