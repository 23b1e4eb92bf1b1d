import type { Context } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'
import { DependencyUnavailableError, PointInTimeExpiredError } from '../services/errors.js'
import type { ReprocessAnswer } from '../services/reprocess.js'
import { injectInternal } from './internal.js'
import { MintingError } from './step-functions.js'

/**
 * A reprocess request as a direct invocation (Step Functions): an object with `window` or `full`,
 * and no `sourceIdentifiers` (which a mint request has). front-doors/event-kind.ts asks this only
 * of events that are neither SQS nor HTTP.
 */
export function isReprocessEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false
  const e = event as Record<string, unknown>
  return ('window' in e || 'full' in e) && !('sourceIdentifiers' in e)
}

/** The answer to an event that is not a valid reprocess request: nothing minted, and one failure that says why. */
export type InvalidReprocessAnswer = Pick<ReprocessAnswer, 'processed' | 'successCount' | 'failureCount' | 'failures' | 'failuresTruncated'> & { jobId?: string }

/**
 * The reprocess front door: the event is the body of POST /reprocess, and the answer its answer,
 * within the invocation's remaining time less LAMBDA_TIMEOUT_MARGIN_MS. Bad input (an invalid
 * request or cursor) is answered, not thrown: {processed: 0, …, failures: [{sourceIdentifier: "",
 * error: "Invalid input: …"}]}, with no cursor, so a loop on the cursor ends. An expired point in
 * time throws PointInTimeExpiredError (not worth retrying); an unavailable dependency
 * DependencyUnavailableError (for the state machine's Retry); anything else MintingError.
 */
export async function invokeReprocess(app: FastifyInstance, internalToken: string, event: Record<string, unknown>, context: Context): Promise<ReprocessAnswer | InvalidReprocessAnswer> {
  // Not echoed when over the route's limit: the answer must stay small whatever the event.
  const jobId = typeof event.jobId === 'string' && event.jobId.length <= 256 ? event.jobId : undefined
  const invalid = (message: string): InvalidReprocessAnswer => ({
    ...(jobId !== undefined ? { jobId } : {}),
    processed: 0,
    successCount: 0,
    failureCount: 1,
    failures: [{ sourceIdentifier: '', error: `Invalid input: ${message}` }],
    failuresTruncated: false,
  })
  let payload: string
  try {
    payload = JSON.stringify(event)
  } catch {
    return invalid('the event is nested too deeply')
  }
  const response = await injectInternal(app, internalToken, context, { method: 'POST', url: '/reprocess', payload })
  const body = response.json() as ReprocessAnswer & { message?: string }
  if (response.statusCode === 200) return body
  if (response.statusCode === 410) throw new PointInTimeExpiredError(body.message ?? 'The point in time has expired')
  if (response.statusCode >= 400 && response.statusCode < 500) return invalid(body.message ?? `status ${response.statusCode}`)
  if (response.statusCode === 503) throw new DependencyUnavailableError(undefined, body.message ?? 'Service unavailable')
  throw new MintingError(body.message ?? `Reprocessing failed with status ${response.statusCode}`)
}
