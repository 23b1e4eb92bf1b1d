/**
 * The SQS interface's bench child: src/lambda.ts imported in-process (under tsx) with the
 * environment the bench set (its stores; use_downstream=sqs for the SQS side), its handler called
 * with SQS events or with direct (Step Functions) invocations, one after the other, as the Lambda
 * runtime would. Each call answers the invocations' latencies in ms; anything but full success is an error.
 */
import type { Context, SQSEvent } from 'aws-lambda'
import { serve } from './protocol.js'

const started = performance.now()
const { handler, ready } = await import('../src/lambda.js')
const app = await ready
const importMs = performance.now() - started

let invocation = 0
const context = () => ({ awsRequestId: `bench-sqs-${++invocation}`, getRemainingTimeInMillis: () => 120_000 }) as unknown as Context

async function sqs({ events }: { events: SQSEvent[] }): Promise<number[]> {
  const latencies: number[] = []
  for (const event of events) {
    const start = performance.now()
    const result = (await handler(event, context())) as { batchItemFailures: Array<{ itemIdentifier: string }> }
    latencies.push(performance.now() - start)
    if (result.batchItemFailures.length > 0) throw new Error(`sqs: ${result.batchItemFailures.length} batch item failures of ${event.Records.length}`)
  }
  return latencies
}

async function direct({ batches }: { batches: string[][] }): Promise<number[]> {
  const latencies: number[] = []
  for (const sourceIdentifiers of batches) {
    const start = performance.now()
    const result = (await handler({ sourceIdentifiers }, context())) as { successes: string[]; failures: unknown[] }
    latencies.push(performance.now() - start)
    if (result.failures.length > 0 || result.successes.length !== sourceIdentifiers.length) throw new Error(`direct: ${result.failures.length} failures`)
  }
  return latencies
}

/** What the app counted of its downstream notifications (its Prometheus registry). */
async function downstream(): Promise<{ requests: number; sent: number; failed: number; mintMs: number }> {
  const value = async (name: string, match: (v: { labels: Record<string, unknown>; metricName?: string }) => boolean = () => true) => {
    const metric = await app.metrics.registry.getSingleMetric(name)?.get()
    return (metric?.values ?? []).filter(match).reduce((sum, v) => sum + v.value, 0)
  }
  return {
    requests: await value('id_minter_downstream_requests_total'),
    sent: await value('id_minter_downstream_messages_total', (v) => v.labels.outcome === 'sent'),
    failed: await value('id_minter_downstream_messages_total', (v) => v.labels.outcome === 'failed'),
    // The time the minter itself took (the spec's processing_time), to tell it from the rest of an invocation.
    mintMs: 1000 * (await value('id_minter_processing_time_seconds', (v) => v.metricName === 'id_minter_processing_time_seconds_sum')),
  }
}

serve({ importMs }, { sqs, direct, downstream, close: () => ({}) })
