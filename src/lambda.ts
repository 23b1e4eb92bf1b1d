import awsLambdaFastify from '@fastify/aws-lambda'
import type { FastifyInstance } from 'fastify'
import type { Context } from 'aws-lambda'
import { randomBytes } from 'node:crypto'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { INTERNAL_HEADER } from './plugins/api-keys.js'
import { BUDGET_HEADER } from './routes/mint.js'
import { DependencyUnavailableError } from './services/errors.js'
import type { MintResult } from './services/minter.js'

/** A Step Functions task sends the mint request itself as the event. */
interface DirectInvocation {
  sourceIdentifiers?: unknown
  jobId?: unknown
  [field: string]: unknown
}

/** Thrown for anything other than bad input or an unavailable dependency; Step Functions sees its name. */
export class MintingError extends Error {
  override name = 'MintingError'
}

// Initialised once per container, outside the handler, and reused by every invocation. Direct
// invocations (Step Functions) are authorised by IAM: the adapter's requests for them carry this
// container's random internal token instead of an API key. HTTP-shaped events (Function URL, ALB,
// API Gateway) reach the app as any HTTP request does, so the configured API keys apply to them.
const internalToken = randomBytes(32).toString('base64url')
// A promise rather
// than a top-level await, so that the deployed bundle can be CommonJS (which is what lets it carry
// a V8 code cache: see src/lambda-entry.ts); the entry awaits it, so a failed start-up still
// fails the Lambda init phase.
export const ready: Promise<FastifyInstance> = start()
// Awaited by every invocation; this only keeps a failed start from being reported twice.
ready.catch(() => {})
let proxy: ((event: unknown, context: Context) => Promise<unknown>) | undefined

async function start(): Promise<FastifyInstance> {
  const app = await buildApp(loadConfig(), { internalToken })
  proxy = awsLambdaFastify(app)
  await app.ready()
  return app
}

function isHttpEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false
  const e = event as Record<string, unknown>
  // API Gateway REST and ALB events carry httpMethod; HTTP API (v2) and Function URLs carry
  // requestContext.http.method. Any other requestContext is just a field of a direct invocation.
  const requestContext = e.requestContext as { http?: { method?: unknown } } | null | undefined
  return typeof e.httpMethod === 'string' || typeof requestContext?.http?.method === 'string'
}

export async function handler(event: unknown, context: Context): Promise<unknown> {
  const app = await ready
  if (isHttpEvent(event)) return proxy!(event, context)
  return invokeMint(app, event as DirectInvocation, context)
}

async function invokeMint(app: FastifyInstance, event: DirectInvocation, context: Context): Promise<MintResult> {
  const jobId = typeof event?.jobId === 'string' ? event.jobId : undefined
  // Bad input is answered, not thrown, so the state machine can route it like any failure.
  const invalid = (message: string): MintResult => ({
    successes: [],
    failures: [{ sourceIdentifier: '', error: `Invalid input: ${message}` }],
    ...(jobId !== undefined ? { jobId } : {}),
  })
  let payload: string
  try {
    payload = JSON.stringify(event ?? null)
  } catch {
    // JSON.stringify recurses: an event nested thousands deep overflows the stack. No mint request is.
    return invalid('the event is nested too deeply')
  }
  // The invocation's remaining time, less the margin, is the mint's budget: it answers before Lambda stops it.
  const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined
  const response = await app.inject({
    method: 'POST',
    url: '/mint',
    headers: {
      'content-type': 'application/json',
      'x-request-id': context?.awsRequestId ?? '',
      [INTERNAL_HEADER]: internalToken,
      ...(remaining !== undefined ? { [BUDGET_HEADER]: String(remaining - app.config.LAMBDA_TIMEOUT_MARGIN_MS) } : {}),
    },
    payload,
  })
  const body = response.json() as MintResult & { message?: string }
  if (response.statusCode === 200) return body
  if (response.statusCode >= 400 && response.statusCode < 500) return invalid(body.message ?? `status ${response.statusCode}`)
  if (response.statusCode === 503) throw new DependencyUnavailableError(undefined, body.message ?? 'Service unavailable')
  throw new MintingError(body.message ?? `Minting failed with status ${response.statusCode}`)
}
