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
