/**
 * A real SQS-compatible server for the SQS interface's tests: ElasticMQ on 127.0.0.1:9324 (`npm
 * run services`). Queues of a test's own (unique names, deleted at teardown), messages sent and
 * received through the AWS SDK, Lambda SQS events built from what ElasticMQ returns, and a small
 * stand-in for Lambda's event source mapping: receive, invoke, delete what succeeded.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs'
import type { SQSEvent } from 'aws-lambda'
import { randomBytes } from 'node:crypto'
import { localAwsEnv, useLocalSqs } from '../../fixtures/local-env.js'
import { snsEnvelope, sqsEvent } from '../../fixtures/sqs-events.js'
import type { Teardown } from '../helpers.js'

useLocalSqs()

export { localAwsEnv }
export { snsEnvelope, sqsEvent }

/** One client for the test process, for ElasticMQ. */
export const sqs = new SQSClient({ region: localAwsEnv.AWS_REGION, endpoint: localAwsEnv.AWS_ENDPOINT_URL_SQS, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } })

export interface TestQueue {
  name: string
  url: string
  arn: string
}

/** A queue with a unique name, deleted at teardown. `attributes` are SQS queue attributes (VisibilityTimeout, RedrivePolicy...). */
export async function createQueue(t: Teardown, name: string, attributes: Record<string, string> = {}): Promise<TestQueue> {
  const unique = `t-${name}-${randomBytes(4).toString('hex')}`.slice(0, 80)
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: unique, Attributes: attributes }))
  const url = QueueUrl as string
  t.teardown(() => sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => {}))
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))
  return { name: unique, url, arn: Attributes?.QueueArn as string }
}

/** Sends each body as one message (SendMessageBatch, 10 a call); answers the messageIds in order. */
export async function sendBodies(queueUrl: string, bodies: string[]): Promise<string[]> {
  const ids: string[] = []
  for (let start = 0; start < bodies.length; start += 10) {
    const slice = bodies.slice(start, start + 10)
    const answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: slice.map((body, i) => ({ Id: String(i), MessageBody: body })) }))
    if (answer.Failed?.length) throw new Error(`sending failed: ${JSON.stringify(answer.Failed)}`)
    const byEntry = new Map((answer.Successful ?? []).map((s) => [s.Id, s.MessageId as string]))
    for (let i = 0; i < slice.length; i++) ids.push(byEntry.get(String(i)) as string)
  }
  return ids
}

/** Receives up to `count` messages (10 a call), with every attribute, until the queue has none visible. */
export async function receive(queueUrl: string, count: number, waitSeconds = 1): Promise<Message[]> {
  const messages: Message[] = []
  while (messages.length < count) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, count - messages.length), WaitTimeSeconds: waitSeconds, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
    )
    if (!Messages || Messages.length === 0) break
    messages.push(...Messages)
  }
  return messages
}

/** Receives and deletes every message on a queue until `expected` have come or none is left; answers their bodies. */
export async function drainBodies(queueUrl: string, expected = Number.POSITIVE_INFINITY): Promise<string[]> {
  const bodies: string[] = []
  for (;;) {
    const batch = await receive(queueUrl, 10, bodies.length < expected ? 1 : 0)
    if (batch.length === 0) break
    bodies.push(...batch.map((m) => m.Body as string))
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })) }))
  }
  return bodies
}

/** Messages on the queue: visible, and received but not yet deleted (in flight). */
export async function queueDepth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))
  return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) }
}

export interface Delivery {
  messages: Message[]
  /** The handler's answer, or the error it threw. */
  outcome: { ok: true; result: unknown } | { ok: false; error: { name: string; message: string } }
  failedMessageIds: string[]
}

/**
 * What Lambda's event source mapping does with ReportBatchItemFailures, once: receives up to
 * `batchSize` messages, invokes the handler with them, deletes those not named in
 * batchItemFailures, and (in place of waiting out the visibility timeout) makes the failed ones
 * visible again. A thrown error fails the whole batch.
 */
export async function deliverOnce(queue: TestQueue, invoke: (event: SQSEvent) => Promise<Delivery['outcome']>, batchSize = 10_000): Promise<Delivery> {
  const messages = await receive(queue.url, batchSize)
  if (messages.length === 0) return { messages, outcome: { ok: true, result: { batchItemFailures: [] } }, failedMessageIds: [] }
  const outcome = await invoke(sqsEvent(messages, queue))
  const failedMessageIds = outcome.ok
    ? (outcome.result as { batchItemFailures: Array<{ itemIdentifier: string }> }).batchItemFailures.map((f) => f.itemIdentifier)
    : messages.map((m) => m.MessageId as string)
  const failed = new Set(failedMessageIds)
  const done = messages.filter((m) => !failed.has(m.MessageId as string))
  const retry = messages.filter((m) => failed.has(m.MessageId as string))
  for (let start = 0; start < done.length; start += 10) {
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: done.slice(start, start + 10).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })) }))
  }
  for (let start = 0; start < retry.length; start += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({ QueueUrl: queue.url, Entries: retry.slice(start, start + 10).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string, VisibilityTimeout: 0 })) }),
    )
  }
  return { messages, outcome, failedMessageIds }
}
