/**
 * The `sqs` workload: 1,000 messages (one all-new work of 6 identifiers each) sent to a real
 * ElasticMQ queue, received from it, and handed to src/lambda.ts's handler as 10 SQS events of 100
 * records, as an event source mapping with batch size 100 would; the canonical IDs go to a real
 * downstream queue (use_downstream=sqs). Beside it, in the same run and on stores of its own, the
 * same works minted by direct invocations (the Step Functions path) in the same groups of 100.
 * Invocations alternate between the two sides; throughput is works / the sum of the handler's
 * times, and the ratio SQS / direct is the figure (target >= 0.9). Downstream requests are what the
 * app counted (SendMessageBatch calls) and the messages found on the downstream queue afterwards.
 */
import { CreateQueueCommand, DeleteMessageBatchCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient, type Message } from '@aws-sdk/client-sqs'
import type { SQSEvent } from 'aws-lambda'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { localAwsEnv } from '../fixtures/local-env.js'
import { sqsEvent } from '../fixtures/sqs-events.js'
import { createStores, dropStores, freshStores, seedWorks, serviceEnvironment } from './environment.js'
import { summarise } from './load.js'
import type { Context } from './measure.js'
import { Child } from './protocol.js'
import { BATCH_SIZE, generatePass, WORKLOADS } from './workloads.js'

export const SQS_MESSAGES = 1000
const WARM_UP_MESSAGES = 200
export const SQS_TARGET_RATIO = 0.9

export interface SqsBenchResult {
  messages: number
  batchSize: number
  loadAverage?: { start: number; end: number }
  sqs?: { worksPerSecond: number; p50: number; p95: number; totalMs: number }
  direct?: { worksPerSecond: number; p50: number; p95: number; totalMs: number }
  ratio?: number
  downstream?: { requests: number; sent: number; failed: number; received: number; distinct: number }
  /** Of the SQS side's time per invocation (median of the 10 is not kept: these are means), what the minter took and the rest: reading bodies, notifying, logging. */
  sqsBreakdown?: { mintMsPerInvocation: number; restMsPerInvocation: number }
  error?: string
}

const sqs = new SQSClient({ region: localAwsEnv.AWS_REGION, endpoint: localAwsEnv.AWS_ENDPOINT_URL_SQS, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } })
const round = (n: number) => Math.round(n * 100) / 100

async function queue(name: string): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '600' } }))
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))
  return { url: QueueUrl as string, arn: Attributes?.QueueArn as string }
}

async function sendAll(url: string, bodies: string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(start, start + 10).map((body, i) => ({ Id: String(i), MessageBody: body })) }))
  }
}

async function receiveAll(url: string, count: number, remove: boolean): Promise<Message[]> {
  const messages: Message[] = []
  while (messages.length < count) {
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }))
    if (!Messages?.length) break
    messages.push(...Messages)
    if (remove) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })) }))
  }
  return messages
}

/** Lambda's SQS events, BATCH_SIZE records each, from what ElasticMQ handed over. */
function events(messages: Message[], arn: string): SQSEvent[] {
  const out: SQSEvent[] = []
  for (let start = 0; start < messages.length; start += BATCH_SIZE) out.push(sqsEvent(messages.slice(start, start + BATCH_SIZE), { arn }))
  return out
}

function startChild(ctx: Context, env: Record<string, string>): Child<{ importMs: number }> {
  const child = new Child<{ importMs: number }>('sqs-lambda', fileURLToPath(new URL('./sqs-child.ts', import.meta.url)), {
    env: { ...process.env, ...env },
    execArgv: ['--import', 'tsx'],
    forwardOutput: ctx.verbose,
  })
  ctx.children.add(child)
  void child.exited.then(() => ctx.children.delete(child))
  return child
}

export async function measureSqs(ctx: Context): Promise<SqsBenchResult> {
  const result: SqsBenchResult = { messages: SQS_MESSAGES, batchSize: BATCH_SIZE }
  const workload = WORKLOADS['all-new']
  const warmUp = generatePass(workload, 0, WARM_UP_MESSAGES)
  const measured = generatePass(workload, 1, SQS_MESSAGES)
  const sqsStores = freshStores()
  const directStores = freshStores()
  const tag = sqsStores.database.replace(/^bench_/, '')
  const queues: string[] = []
  const children: Array<Child<{ importMs: number }>> = []
  ctx.progress(`sqs: ${SQS_MESSAGES} messages through ElasticMQ in events of ${BATCH_SIZE}, against direct invocations of the same works`)
  try {
    for (const stores of [sqsStores, directStores]) {
      await createStores(ctx.admin, stores)
      await seedWorks(ctx.admin, stores, [...warmUp.works, ...measured.works])
    }
    const input = await queue(`bench-sqs-in-${tag}`)
    const downstream = await queue(`bench-sqs-down-${tag}`)
    queues.push(input.url, downstream.url)
    const sqsSide = startChild(ctx, { ...serviceEnvironment(sqsStores, ctx.logLevel), ...localAwsEnv, use_downstream: 'sqs', downstream_queue_url: downstream.url })
    const directSide = startChild(ctx, serviceEnvironment(directStores, ctx.logLevel))
    children.push(sqsSide, directSide)
    await Promise.all([sqsSide.ready, directSide.ready])

    // Every message is sent and received before anything is timed: the events are what Lambda would pass.
    const batchesOf = async (works: typeof measured.works) => {
      await sendAll(input.url, works.map((w) => w.id))
      const messages = await receiveAll(input.url, works.length, true)
      if (messages.length !== works.length) throw new Error(`ElasticMQ handed over ${messages.length} of ${works.length} messages`)
      const sqsEvents = events(messages, input.arn)
      return { sqsEvents, directBatches: sqsEvents.map((e) => e.Records.map((r) => r.body)) }
    }
    const warm = await batchesOf(warmUp.works)
    await sqsSide.call('sqs', { events: warm.sqsEvents })
    await directSide.call('direct', { batches: warm.directBatches })
    const before = await sqsSide.call<{ requests: number; sent: number; failed: number; mintMs: number }>('downstream')
    await receiveAll(downstream.url, 2 * WARM_UP_MESSAGES, true)

    const run = await batchesOf(measured.works)
    const load = { start: round(os.loadavg()[0] ?? 0), end: 0 }
    const sqsLatencies: number[] = []
    const directLatencies: number[] = []
    for (let i = 0; i < run.sqsEvents.length; i++) {
      // Alternating, so both sides see the same load on the machine.
      sqsLatencies.push(...(await sqsSide.call<number[]>('sqs', { events: [run.sqsEvents[i]] })))
      directLatencies.push(...(await directSide.call<number[]>('direct', { batches: [run.directBatches[i]] })))
    }
    load.end = round(os.loadavg()[0] ?? 0)
    result.loadAverage = load
    const side = (latencies: number[]) => {
      const totalMs = latencies.reduce((a, b) => a + b, 0)
      const summary = summarise(latencies)
      return { worksPerSecond: Math.round((SQS_MESSAGES / totalMs) * 1000), p50: round(summary.p50), p95: round(summary.p95), totalMs: Math.round(totalMs) }
    }
    result.sqs = side(sqsLatencies)
    result.direct = side(directLatencies)
    result.ratio = round(result.sqs.worksPerSecond / result.direct.worksPerSecond)
    const after = await sqsSide.call<{ requests: number; sent: number; failed: number; mintMs: number }>('downstream')
    const invocations = run.sqsEvents.length
    const mintMsPerInvocation = round((after.mintMs - before.mintMs) / invocations)
    result.sqsBreakdown = { mintMsPerInvocation, restMsPerInvocation: round(result.sqs.totalMs / invocations - mintMsPerInvocation) }
    const received = await receiveAll(downstream.url, 2 * SQS_MESSAGES, true)
    const bodies = received.map((m) => m.Body as string)
    result.downstream = {
      requests: after.requests - before.requests,
      sent: after.sent - before.sent,
      failed: after.failed - before.failed,
      received: bodies.length,
      distinct: new Set(bodies).size,
    }
    ctx.progress(
      `sqs: ${result.sqs.worksPerSecond} works/s (p50 ${result.sqs.p50} ms per 100) vs direct ${result.direct.worksPerSecond} works/s (p50 ${result.direct.p50} ms): ratio ${result.ratio}; ` +
        `${result.downstream.requests} SendMessageBatch calls for ${result.downstream.sent} canonical IDs; per invocation the mint ${result.sqsBreakdown.mintMsPerInvocation} ms, the rest ${result.sqsBreakdown.restMsPerInvocation} ms; load ${load.start} → ${load.end}`,
    )
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error)
    ctx.progress(`sqs: FAILED: ${result.error}`)
  } finally {
    for (const child of children) child.kill()
    for (const url of queues) await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => {})
    await dropStores(ctx.admin, sqsStores).catch(() => {})
    await dropStores(ctx.admin, directStores).catch(() => {})
  }
  return result
}

/** The target line for report.ts. */
export function sqsTarget(result: SqsBenchResult) {
  return {
    target: `sqs: ${result.messages.toLocaleString('en-GB')} messages in events of ${result.batchSize} >= ${SQS_TARGET_RATIO} x direct mint throughput (same works, same run)`,
    measured: result.ratio === undefined ? `error: ${result.error?.split('\n')[0] ?? ''}` : `${result.ratio.toFixed(2)} (${result.sqs?.worksPerSecond} vs ${result.direct?.worksPerSecond} works/s)`,
    pass: result.ratio === undefined ? false : result.ratio >= SQS_TARGET_RATIO,
  }
}

/** The Markdown section for report.ts. */
export function renderSqs(result: SqsBenchResult): string[] {
  const out = [`### SQS interface (${result.messages.toLocaleString('en-GB')} messages, events of ${result.batchSize}, all-new works of 6 identifiers)`, '']
  if (result.error) return [...out, `error: ${result.error}`]
  if (result.loadAverage) out.push(`Load average ${result.loadAverage.start} when the measured invocations started, ${result.loadAverage.end} when they ended.`, '')
  const row = (what: string, s: SqsBenchResult['sqs']) => [what, String(s?.worksPerSecond ?? '–'), String(s?.p50 ?? '–'), String(s?.p95 ?? '–')]
  out.push('| Path | Works/s | p50 ms per invocation | p95 ms |', '| --- | --- | --- | --- |')
  for (const cells of [row('SQS events (mint + SendMessageBatch downstream)', result.sqs), row('Direct invocations of the same works (Step Functions path)', result.direct)]) out.push(`| ${cells.join(' | ')} |`)
  const d = result.downstream
  out.push(
    '',
    `SQS ÷ direct: **${result.ratio?.toFixed(2) ?? '–'}** (target ${SQS_TARGET_RATIO}).` +
      (d ? ` Downstream: ${d.requests} SendMessageBatch calls for ${d.sent} canonical IDs (${d.failed} failed); ${d.received} messages on the downstream queue, ${d.distinct} distinct.` : '') +
      (result.sqsBreakdown ? ` Per SQS invocation (mean): the mint ${result.sqsBreakdown.mintMsPerInvocation} ms, the rest (bodies, notifications, logs) ${result.sqsBreakdown.restMsPerInvocation} ms.` : ''),
  )
  return out
}
