import { DependencyUnavailableError } from './errors.js'

/**
 * One time budget for a whole request, spent across its stages (reading works, looking up and
 * storing identifiers, indexing). Each stage asks how much is left and hands that to its driver
 * as the driver's own timeout (mysql2's per-query timeout, the Elasticsearch client's
 * requestTimeout and AbortSignal), so that work is cancelled when the budget runs out rather than
 * left running. In Lambda the budget is the invocation's remaining time minus a margin; over HTTP
 * it is MINT_TIMEOUT_MS. Times are milliseconds.
 */
export class Deadline {
  /** performance.now() at which the budget runs out. */
  readonly at: number
  /** Aborted when the budget runs out: for drivers that take an AbortSignal. */
  readonly signal: AbortSignal

  constructor(readonly budgetMs: number) {
    this.at = performance.now() + budgetMs
    this.signal = AbortSignal.timeout(Math.max(1, Math.ceil(budgetMs)))
  }

  /** Milliseconds left, never below 0. */
  remaining(): number {
    return Math.max(0, this.at - performance.now())
  }

  /**
   * What is left for a stage waiting on `dependency`, at least 1 ms; throws
   * DependencyUnavailableError (a 503, a retry for the state machine) once nothing is.
   */
  forStage(dependency: 'database' | 'elasticsearch', stage: string): number {
    const left = Math.floor(this.remaining())
    if (left < 1) throw this.spent(dependency, stage)
    return left
  }

  /** The error for a stage the budget ran out in. */
  spent(dependency: 'database' | 'elasticsearch', stage: string, cause?: unknown): DependencyUnavailableError {
    const name = dependency === 'database' ? 'Database' : 'Elasticsearch'
    return new DependencyUnavailableError(dependency, `${name} unavailable: the request's ${this.budgetMs} ms ran out ${stage}`, cause === undefined ? undefined : { cause })
  }

  /** A budget with no practical end, for callers that set none (scripts, the benchmark's floor checks). */
  static unlimited(): Deadline {
    return new Deadline(2 ** 31 - 1)
  }
}
