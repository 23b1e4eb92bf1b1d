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

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}
