/**
 * One Lambda container of the reprocess workload (bench/reprocess.ts): src/lambda.ts's handler
 * called in-process with reprocess events as the reprocess-full state machine sends them (open the
 * job; then one slice, again with each answer's cursor until an answer has none), each invocation
 * with a 15-minute Lambda's remaining time. The bench sets the environment (the stores of this
 * run) before forking, so the module builds its app against them when imported; it runs as an
 * esbuild bundle under the Lambda runtime's node flags for the memory size measured.
 */
import type { Context } from 'aws-lambda'
import mysql from 'mysql2'
import { countSqlStatements, sampleMemory, serve, type MemoryPeaks } from './protocol.js'

/** A Lambda's longest timeout: each invocation's budget is this less LAMBDA_TIMEOUT_MARGIN_MS. */
const INVOCATION_MS = 900_000

export interface ReprocessChildCounters {
  sqlStatements: number
  esRequests: number
  maxRssBytes: number
  cpuMs: number
  memoryPeaks: MemoryPeaks
}

interface Answer {
  processed: number
  failureCount: number
  failures: Array<{ sourceIdentifier: string; error: string }>
  cursor?: string
}

const memoryPeaks = sampleMemory()
const sqlStatements = countSqlStatements(mysql.Connection)

const { handler, ready } = await import('../src/lambda.js')
const app = await ready
let esRequests = 0
for (const client of [app.elasticsearch.source, app.elasticsearch.target]) client.diagnostic.on('request', () => esRequests++)

let invocation = 0
function context(): Context {
  const endsAt = Date.now() + INVOCATION_MS
  return { awsRequestId: `bench-reprocess-${++invocation}`, getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()) } as Context
}

async function invoke(event: Record<string, unknown>): Promise<Answer> {
  const answer = (await handler(event, context())) as Answer
  if (answer.failureCount > 0) throw new Error(`reprocess: ${answer.failureCount} failures, e.g. ${JSON.stringify(answer.failures[0])}`)
  return answer
}

/** Opens a job of `slices` slices; returns the cursor each slice starts from. */
async function open({ slices, jobId }: { slices: number; jobId: string }): Promise<string> {
  return (await invoke({ full: true, slices, jobId })).cursor as string
}

/** Runs one slice to its end, as the state machine's loop does; returns the works and the calls it took. */
async function run({ slice, cursor, jobId }: { slice: { id: number; max: number }; cursor: string; jobId: string }): Promise<{ processed: number; calls: number }> {
  let processed = 0
  let calls = 0
  for (let next: string | undefined = cursor; next; calls++) {
    const answer = await invoke({ full: true, slice, cursor: next, jobId })
    processed += answer.processed
    next = answer.cursor
  }
  return { processed, calls }
}

function counters(): ReprocessChildCounters {
  const { user, system } = process.cpuUsage()
  return { sqlStatements: sqlStatements(), esRequests, maxRssBytes: process.resourceUsage().maxRSS * 1024, cpuMs: (user + system) / 1000, memoryPeaks: memoryPeaks() }
}

serve({ rssBytes: process.memoryUsage.rss() }, { open, run, counters, close: () => counters() })
