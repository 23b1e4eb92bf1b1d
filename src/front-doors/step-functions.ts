import type { Context } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'
import { DependencyUnavailableError } from '../services/errors.js'
import type { MintResult } from '../services/minter.js'
import { injectInternal } from './internal.js'

/** A Step Functions task sends the mint request itself as the event: {sourceIdentifiers, jobId}. */
export interface DirectInvocation {
  sourceIdentifiers?: unknown
  jobId?: unknown
  [field: string]: unknown
}

/** Thrown for anything other than bad input or an unavailable dependency; Step Functions sees its name. */
export class MintingError extends Error {
  override name = 'MintingError'
}

/**
 * The spec's Step Functions interface: the event is a mint request, the answer the mint result.
 * Bad input is answered ({failures: [{sourceIdentifier: "", error: "Invalid input: …"}]}), not
 * thrown, so the state machine routes it like any failure. An unavailable dependency (or a budget
 * spent) throws DependencyUnavailableError, for the state machine's Retry; anything else MintingError.
 */
export async function invokeMint(app: FastifyInstance, internalToken: string, event: DirectInvocation, context: Context): Promise<MintResult> {
  const jobId = typeof event?.jobId === 'string' ? event.jobId : undefined
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
  const response = await injectInternal(app, internalToken, context, { method: 'POST', url: '/mint', payload })
  const body = response.json() as MintResult & { message?: string }
  if (response.statusCode === 200) return body
  if (response.statusCode >= 400 && response.statusCode < 500) return invalid(body.message ?? `status ${response.statusCode}`)
  if (response.statusCode === 503) throw new DependencyUnavailableError(undefined, body.message ?? 'Service unavailable')
  throw new MintingError(body.message ?? `Minting failed with status ${response.statusCode}`)
}
