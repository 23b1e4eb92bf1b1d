import { describeError } from './errors.js'

export interface CheckResult {
  status: 'ok' | 'error'
  latencyMs: number
  error?: string
}

export interface Health {
  status: 'ok' | 'error'
  checks: { database: CheckResult; sourceIndex: CheckResult; identifiedIndex: CheckResult }
}

export interface HealthDependencies {
  database: { ping(): Promise<void> }
  works: { ping(which: 'source' | 'target', timeoutMs: number): Promise<void> }
  timeoutMs?: number
}

async function timed(check: () => Promise<void>, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) }
  } catch (error) {
    return { status: 'error', latencyMs: Math.round(performance.now() - started), error: describeError(error) }
  } finally {
    clearTimeout(timer)
  }
}

/** Asks each dependency afresh, in parallel; nothing is cached, so recovery shows at once. */
export async function checkHealth({ database, works, timeoutMs = 3000 }: HealthDependencies): Promise<Health> {
  const [db, source, target] = await Promise.all([
    timed(() => database.ping(), timeoutMs),
    timed(() => works.ping('source', timeoutMs), timeoutMs),
    timed(() => works.ping('target', timeoutMs), timeoutMs),
  ])
  const checks = { database: db, sourceIndex: source, identifiedIndex: target }
  const status = Object.values(checks).every((c) => c.status === 'ok') ? 'ok' : 'error'
  return { status, checks }
}
