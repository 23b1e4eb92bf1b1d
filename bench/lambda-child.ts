/**
 * The Step Functions path: src/lambda.ts's handler called in-process with direct-invocation events,
 * as the Lambda runtime would. The bench sets the environment (the stores of this run) before
 * forking, so the module builds its app against them when imported.
 */
import type { Context } from 'aws-lambda'
import { serve } from './protocol.js'

const started = performance.now()
const { handler, ready } = await import('../src/lambda.js')
await ready
const importMs = performance.now() - started

let invocation = 0

/** Invokes the handler once per batch, sequentially; returns each invocation's latency. */
async function invoke({ batches }: { batches: string[][] }): Promise<number[]> {
  const latencies: number[] = []
  for (const sourceIdentifiers of batches) {
    const context = { awsRequestId: `bench-${++invocation}` } as Context
    const start = performance.now()
    const result = (await handler({ sourceIdentifiers }, context)) as { successes: string[]; failures: unknown[] }
    latencies.push(performance.now() - start)
    if (result.failures.length > 0 || result.successes.length !== sourceIdentifiers.length) {
      throw new Error(`lambda: ${result.failures.length} failures, e.g. ${JSON.stringify(result.failures[0])}`)
    }
  }
  return latencies
}

serve({ importMs }, { invoke, close: () => ({}) })
