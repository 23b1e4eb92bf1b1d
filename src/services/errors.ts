/**
 * A backing service (the database or Elasticsearch) could not do its part. The request as a
 * whole is answered 503, and the Lambda throws this by name so a state machine's Retry applies.
 */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError'
  readonly dependency: 'database' | 'elasticsearch' | undefined

  constructor(dependency: 'database' | 'elasticsearch' | undefined, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.dependency = dependency
  }
}

/** The innermost cause: drizzle wraps driver errors in its own, which repeat the whole query. */
export function rootCause(error: unknown): unknown {
  let current = error
  for (let depth = 0; depth < 10 && current instanceof Error && current.cause !== undefined; depth++) current = current.cause
  return current
}

export function describeError(error: unknown): string {
  error = rootCause(error)
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}

/**
 * The point in time a reprocess cursor reads from has expired (its keep_alive passed with no search)
 * or was closed. Answered 410 over HTTP and thrown by name to Step Functions: continuing is
 * impossible, and the job is started again without a cursor (a mint run twice gives the same IDs).
 */
export class PointInTimeExpiredError extends Error {
  override name = 'PointInTimeExpiredError'
  readonly statusCode = 410
}

/**
 * A reprocess cursor that cannot be read: not one this service made, damaged in transit, or made
 * for another selection, slice or source index. Answered 400, or `Invalid input` to a Lambda.
 */
export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError'
  readonly statusCode = 400
}
