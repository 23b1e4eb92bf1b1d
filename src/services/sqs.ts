// Everything that talks to SQS through the AWS SDK: the client, the downstream target that sends
// canonical IDs with SendMessageBatch, and what the server's queue consumer needs. Only ever
// loaded by import() (createDownstream, plugins/queue.ts) when the configuration uses SQS, so a
// function that never does (the Step Functions Lambda) does not load the SDK at start-up: about
// 20 ms of a cold start on the 2-core bench machine (`npm run bench -- --workload cold-start`).
import { SendMessageBatchCommand, SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs'
import type { Deadline } from './deadline.js'
import type { Downstream } from './downstream.js'
import { describeError } from './errors.js'

export { GetQueueAttributesCommand } from '@aws-sdk/client-sqs'
export { Consumer } from 'sqs-consumer'

/** SQS's limit on entries in one SendMessageBatch call. */
export const SQS_BATCH_ENTRIES = 10

/** Attempts per entry: the first send, then two retries of the entries that failed. */
const SEND_ATTEMPTS = 3

export interface SqsDownstreamOptions {
  queueUrl: string
  /** A client of the caller's; by default one configured from the SDK's standard variables (AWS_REGION, AWS_ENDPOINT_URL_SQS, credentials). */
  client?: SQSClient
  /** Pause before retrying, in ms, doubled on each retry (default 100). */
  retryDelayMs?: number
}

/**
 * The SQS client the service uses: region, endpoint and credentials from the SDK's standard
 * variables, so the same code talks to AWS and to a local SQS-compatible server. A call to an
 * unreachable endpoint fails after 3 s, and one to a silent endpoint after 30 s (longer than the
 * consumer's 10 s long poll (RECEIVE_WAIT_SECONDS); throwOnRequestTimeout, or the SDK would only warn). Sends are also
 * bounded by the request's deadline (abortSignal).
 */
export function createSqsClient(): SQSClient {
  return new SQSClient({ requestHandler: { connectionTimeout: 3_000, requestTimeout: 30_000, throwOnRequestTimeout: true } })
}

/**
 * SendMessageBatch with 10 entries per call, the calls in parallel. The entries of a partially
 * failed call (the answer's Failed list) and of a call that failed as a whole (after the SDK's own
 * retries) are sent again, up to SEND_ATTEMPTS times in all, while the deadline lasts; an entry
 * SQS refused as the sender's fault (SenderFault: a malformed entry) is not retried.
 */
export function createSqsDownstream({ queueUrl, client = createSqsClient(), retryDelayMs = 100 }: SqsDownstreamOptions): Downstream {
  async function sendOnce(ids: string[], deadline: Deadline, failed: Map<string, string>, retry: string[]): Promise<void> {
    const entries: SendMessageBatchRequestEntry[] = ids.map((id, index) => ({ Id: String(index), MessageBody: id }))
    try {
      const answer = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }), { abortSignal: deadline.signal })
      for (const entry of answer.Failed ?? []) {
        const id = ids[Number(entry.Id)]
        if (id === undefined) continue
        const reason = `SQS refused the message: ${entry.Code ?? 'error'}${entry.Message ? `: ${entry.Message}` : ''}`
        failed.set(id, reason)
        if (!entry.SenderFault) retry.push(id)
      }
    } catch (error) {
      for (const id of ids) {
        failed.set(id, `SendMessageBatch to ${queueUrl} failed: ${describeError(error)}`)
        retry.push(id)
      }
    }
  }

  return {
    target: 'sqs',
    async notify(canonicalIds, deadline) {
      const failed = new Map<string, string>()
      let pending = [...new Set(canonicalIds)]
      let requests = 0
      for (let attempt = 1; attempt <= SEND_ATTEMPTS && pending.length > 0; attempt++) {
        if (attempt > 1) {
          const pause = retryDelayMs * 2 ** (attempt - 2)
          if (deadline.remaining() <= pause) break
          await new Promise((resolve) => setTimeout(resolve, pause))
        }
        for (const id of pending) failed.delete(id)
        const retry: string[] = []
        const calls: Promise<void>[] = []
        for (let start = 0; start < pending.length; start += SQS_BATCH_ENTRIES) {
          requests++
          calls.push(sendOnce(pending.slice(start, start + SQS_BATCH_ENTRIES), deadline, failed, retry))
        }
        await Promise.all(calls)
        pending = retry
      }
      const unique = new Set(canonicalIds).size
      return { sent: unique - failed.size, failed, requests }
    },
    close: () => client.destroy(),
  }
}
