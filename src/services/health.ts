import { Deadline } from './deadline.js'
import { describeError } from './errors.js'

export interface CheckResult {
  status: 'ok' | 'error'
  latencyMs: number
  error?: string
}

export interface Health {
  status: 'ok' | 'error'
  checks: { database: CheckResult; sourceIndex: CheckResult; identifiedIndex: CheckResult; queue?: CheckResult }
}

export interface HealthDependencies {
  database: { ping(deadline: Deadline): Promise<void> }
  works: { ping(which: 'source' | 'target', deadline: Deadline): Promise<void> }
  /** The input queue the server consumes (queue_url), when one is configured. */
  queue?: { ping(deadline: Deadline): Promise<void> } | undefined
  /** Each check's budget in ms: its driver gives up (and cancels) after it. */
  timeoutMs?: number
}

async function timed(check: (deadline: Deadline) => Promise<void>, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now()
  try {
    await check(new Deadline(timeoutMs))
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) }
  } catch (error) {
    return { status: 'error', latencyMs: Math.round(performance.now() - started), error: describeError(error) }
  }
}

/**
 * Readiness: asks each dependency afresh, in parallel, each within timeoutMs (3 s by default);
 * nothing is cached, so recovery shows at once.
 */
export async function checkHealth({ database, works, queue, timeoutMs = 3000 }: HealthDependencies): Promise<Health> {
  const [db, source, target, input] = await Promise.all([
    timed((deadline) => database.ping(deadline), timeoutMs),
    timed((deadline) => works.ping('source', deadline), timeoutMs),
    timed((deadline) => works.ping('target', deadline), timeoutMs),
    queue ? timed((deadline) => queue.ping(deadline), timeoutMs) : undefined,
  ])
  const checks: Health['checks'] = { database: db, sourceIndex: source, identifiedIndex: target, ...(input ? { queue: input } : {}) }
  const status = Object.values(checks).every((c) => c.status === 'ok') ? 'ok' : 'error'
  return { status, checks }
}
