import { fork, type ChildProcess, type ForkOptions } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

/**
 * A minimal request/response protocol over the IPC channel of a forked child: the child announces
 * itself with one `ready` message, then answers `{ id, method, params }` with `{ id, result | error }`.
 */

interface Request {
  id: number
  method: string
  params?: unknown
}

interface Response {
  id: number
  result?: unknown
  error?: string
}

type Handlers = Record<string, (params: never) => unknown>

/** Child side: reports ready, then answers requests until the parent disconnects. */
export function serve(ready: Record<string, unknown>, handlers: Handlers): void {
  const send = (message: unknown) => process.send?.(message)
  process.on('message', (message: Request) => {
    const handler = handlers[message.method]
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown method ${message.method}`)
        return handler(message.params as never)
      })
      .then(
        (result) => send({ id: message.id, result }),
        (error: unknown) => send({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      )
  })
  // Without a parent there is nobody to answer: leave rather than linger.
  process.on('disconnect', () => process.exit(0))
  send({ ready: true, ...ready })
}

/**
 * CPU profiling of the measured window only (start-up and warm-up left out), through the
 * inspector of the child itself: `profileStart`, then `profileStop` with the file to write.
 */
export function profilerHandlers(): Handlers {
  let session: Session | undefined
  let heapSession: Session | undefined
  return {
    async profileStart() {
      session = new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
    },
    async profileStop(file: string) {
      if (!session) throw new Error('profileStop without profileStart')
      const { profile } = await session.post('Profiler.stop')
      writeFileSync(file, JSON.stringify(profile))
      session.disconnect()
      session = undefined
    },
    /** Sampled allocations, the ones already collected included: where the garbage comes from. */
    async heapProfileStart() {
      heapSession = new Session()
      heapSession.connect()
      await heapSession.post('HeapProfiler.enable')
      await heapSession.post('HeapProfiler.startSampling', {
        samplingInterval: 16384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      })
    },
    async heapProfileStop(file: string) {
      if (!heapSession) throw new Error('heapProfileStop without heapProfileStart')
      const { profile } = await heapSession.post('HeapProfiler.stopSampling')
      writeFileSync(file, JSON.stringify(profile))
      heapSession.disconnect()
      heapSession = undefined
    },
  }
}

/** Parent side of one child. */
export class Child<Ready = Record<string, unknown>> {
  readonly process: ChildProcess
  readonly ready: Promise<Ready>
  readonly exited: Promise<number | null>
  private nextId = 1
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  private readonly stderr: string[] = []

  constructor(
    readonly name: string,
    modulePath: string,
    options: ForkOptions & { forwardOutput?: boolean },
  ) {
    const { forwardOutput, ...forkOptions } = options
    this.process = fork(modulePath, [], {
      ...forkOptions,
      stdio: ['ignore', forwardOutput ? 'inherit' : 'ignore', 'pipe', 'ipc'],
    })
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (!line) continue
        this.stderr.push(line)
        if (this.stderr.length > 50) this.stderr.shift()
        if (forwardOutput) process.stderr.write(`[${name}] ${line}\n`)
      }
    })
    this.exited = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)))
    this.ready = new Promise<Ready>((resolve, reject) => {
      this.process.on('message', (message: Response | (Ready & { ready: true })) => {
        if ('ready' in message) return resolve(message)
        const call = this.pending.get(message.id)
        if (!call) return
        this.pending.delete(message.id)
        if (message.error !== undefined) call.reject(new Error(`${name}: ${message.error}`))
        else call.resolve(message.result)
      })
      void this.exited.then((code) => {
        const error = new Error(`${name} exited with code ${code}${this.stderr.length ? `:\n${this.stderr.join('\n')}` : ''}`)
        reject(error)
        for (const call of this.pending.values()) call.reject(error)
        this.pending.clear()
      })
    })
  }

  call<T>(method: string, params?: unknown): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.process.send({ id, method, params } satisfies Request)
    })
  }

  /** Asks the child to finish (its `close` handler), then waits for it to exit. */
  async close<T>(): Promise<T | undefined> {
    if (this.process.exitCode !== null) return undefined
    const result = await this.call<T>('close')
    this.process.disconnect()
    await this.exited
    return result
  }

  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill()
  }
}

export interface MemoryPeaks {
  rssBytes: number
  heapTotalBytes: number
  heapUsedBytes: number
  externalBytes: number
}

/**
 * Samples process.memoryUsage() every 50 ms (each call costs ~0.1 ms) and keeps the peak of each part, so the
 * report can say what a peak RSS was made of (V8 heap, or memory outside it such as Buffers).
 */
export function sampleMemory(intervalMs = 50): () => MemoryPeaks {
  const peaks: MemoryPeaks = { rssBytes: 0, heapTotalBytes: 0, heapUsedBytes: 0, externalBytes: 0 }
  const sample = () => {
    const m = process.memoryUsage()
    if (m.rss > peaks.rssBytes) peaks.rssBytes = m.rss
    if (m.heapTotal > peaks.heapTotalBytes) peaks.heapTotalBytes = m.heapTotal
    if (m.heapUsed > peaks.heapUsedBytes) peaks.heapUsedBytes = m.heapUsed
    if (m.external > peaks.externalBytes) peaks.externalBytes = m.external
  }
  setInterval(sample, intervalMs).unref()
  return () => {
    sample()
    return { ...peaks }
  }
}

/**
 * Counts the SQL statements this process sends from now on, through every pool, connection and
 * transaction of mysql2 (`connectionClass` is its Connection: each statement goes through
 * BaseConnection.query or .execute). Returns a reader of the running count.
 */
export function countSqlStatements(connectionClass: { prototype: object }): () => number {
  let count = 0
  const base = Object.getPrototypeOf(connectionClass.prototype) as Record<'query' | 'execute', (...args: unknown[]) => unknown>
  for (const method of ['query', 'execute'] as const) {
    const original = base[method]
    base[method] = function (this: unknown, ...args: unknown[]) {
      count++
      return original.apply(this, args)
    }
  }
  return () => count
}
