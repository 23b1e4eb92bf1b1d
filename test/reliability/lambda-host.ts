/**
 * Runs src/lambda.ts in a child process, as one Lambda container would: the module builds its app
 * from the environment at import time, so every container gets its own process and environment.
 * The parent invokes the handler over IPC. When tap runs this file as a test file on its own, the
 * guard below keeps it inert (no tests, skipped).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { localEnv } from '../../fixtures/local-env.js'

interface Invoke {
  id: number
  /** The event as JSON text: the Lambda runtime, too, receives text and parses it. */
  json: string
  /** The invocation's time left at its start, in ms, as context.getRemainingTimeInMillis() tells it; none when absent. */
  remainingMs?: number
}

export type Invocation = { ok: true; result: unknown } | { ok: false; error: { name: string; message: string } }

if (process.env.RELIABILITY_LAMBDA_HOST === '1' && process.send) {
  const { handler, ready } = await import('../../src/lambda.js')
  await ready
  process.on('message', (message: Invoke) => {
    const endsAt = message.remainingMs === undefined ? undefined : Date.now() + message.remainingMs
    const context = {
      awsRequestId: `req-${message.id}`,
      ...(endsAt === undefined ? {} : { getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()) }),
    } as Parameters<typeof handler>[1]
    let event: unknown
    try {
      event = JSON.parse(message.json)
    } catch {
      process.send?.({ id: message.id, outcome: { ok: false, error: { name: 'RuntimeParseError', message: 'event is not JSON' } } })
      return
    }
    handler(event, context).then(
      (result) => process.send?.({ id: message.id, outcome: { ok: true, result } }),
      (error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error))
        process.send?.({ id: message.id, outcome: { ok: false, error: { name: e.name, message: e.message } } })
      },
    )
  })
  process.on('disconnect', () => process.exit(0))
  process.send({ ready: true })
}

export interface LambdaHost {
  /** Invokes the handler; with remainingMs, its context says that much time is left. */
  invoke(event: unknown, remainingMs?: number): Promise<Invocation>
  /** Invokes with the event given as JSON text (for events too deep to serialise here). */
  invokeJson(json: string, remainingMs?: number): Promise<Invocation>
  /** Whether the container process is still alive (a crash would end it). */
  alive(): boolean
  exitCode(): number | null
  close(): Promise<void>
  stderr(): string
}

/** Starts one "container" with this environment (merged over the test process's own). */
export async function startLambdaHost(env: Record<string, string>): Promise<LambdaHost> {
  const file = fileURLToPath(import.meta.url)
  const child: ChildProcess = fork(file, [], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env, RELIABILITY_LAMBDA_HOST: '1' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 100_000) stderr += chunk.toString('utf8')
  })
  const pending = new Map<number, (outcome: Invocation) => void>()
  let exited = false
  let code: number | null = null
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (exitCode) => {
      exited = true
      code = exitCode
      for (const settle of pending.values()) settle({ ok: false, error: { name: 'ContainerExited', message: `exit ${exitCode}` } })
      pending.clear()
      resolve()
    }),
  )
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lambda container did not start: ${stderr}`)), 60_000)
    child.on('message', (message: { ready?: boolean; id?: number; outcome?: Invocation }) => {
      if (message.ready) {
        clearTimeout(timer)
        resolve()
      } else if (message.id !== undefined && message.outcome) {
        pending.get(message.id)?.(message.outcome)
        pending.delete(message.id)
      }
    })
    child.once('exit', () => {
      clearTimeout(timer)
      reject(new Error(`lambda container exited at start: ${stderr}`))
    })
  })
  let next = 0
  const invokeJson = (json: string, remainingMs?: number): Promise<Invocation> => {
    if (exited) return Promise.resolve({ ok: false, error: { name: 'ContainerExited', message: `exit ${code}` } })
    const id = ++next
    return new Promise((resolve) => {
      pending.set(id, resolve)
      child.send({ id, json, ...(remainingMs === undefined ? {} : { remainingMs }) })
    })
  }
  return {
    invoke: (event, remainingMs) => invokeJson(JSON.stringify(event) ?? 'null', remainingMs),
    invokeJson,
    alive: () => !exited,
    exitCode: () => code,
    stderr: () => stderr,
    async close() {
      if (exited) return
      child.disconnect()
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exit
      clearTimeout(timer)
    },
  }
}

/** The environment a Lambda container or a server process needs to use a test's own database and indices (overrides last). */
export function lambdaEnv(config: {
  IDENTIFIERS_DATABASE: string
  es_source_index: string
  es_identified_index: string
}, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...localEnv,
    IDENTIFIERS_DATABASE: config.IDENTIFIERS_DATABASE,
    es_source_index: config.es_source_index,
    es_identified_index: config.es_identified_index,
    APPLY_MIGRATIONS: 'true',
    LOG_LEVEL: 'silent',
    ...overrides,
  }
}
