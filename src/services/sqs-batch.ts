import type { Deadline } from './deadline.js'
import type { Downstream } from './downstream.js'
import { describeError, DependencyUnavailableError } from './errors.js'
import type { MintReport, MintRequest } from './minter.js'

/** The most distinct source identifiers one mint takes (POST /mint's limit). */
export const MAX_CHUNK = 100

/** One SQS message as the batch rules need it: Lambda's record and sqs-consumer's message both give these. */
export interface QueueMessage {
  /** SQS's id of the message: what a batch item failure names. */
  messageId: string
  /** The message body; anything but a string is a poison message. */
  body: unknown
}

/** The answer an SQS event source mapping reads (with ReportBatchItemFailures on): the messages to keep. */
export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>
}

/** A body is a source identifier, or a reason it is not one. */
export type BodyReading = { sourceIdentifier: string } | { reason: string }

/**
 * The source identifier a message body carries, as the existing pipeline sends it: an SNS
 * notification envelope (raw message delivery off), whose Message is the identifier, or the
 * identifier as plain text. Surrounding whitespace is trimmed, as POST /mint trims. A body that
 * starts with "{" is an envelope or nothing: it must parse as JSON, be an SNS Notification, and
 * carry a non-blank string Message (no source index id starts with "{").
 */
export function readMessageBody(body: unknown): BodyReading {
  if (typeof body !== 'string') return { reason: `the body is ${body === null ? 'null' : typeof body}, not text` }
  const text = body.trim()
  if (text === '') return { reason: 'the body is blank' }
  if (!text.startsWith('{')) return { sourceIdentifier: text }
  let envelope: unknown
  try {
    envelope = JSON.parse(text)
  } catch (error) {
    return { reason: `the body starts with "{" but is not a JSON SNS envelope: ${(error as Error).message}` }
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) return { reason: 'the body is JSON but not an SNS envelope object' }
  const { Type: type, Message: message } = envelope as Record<string, unknown>
  if (type !== 'Notification') return { reason: `the body is JSON but not an SNS Notification envelope (Type ${JSON.stringify(type) ?? 'missing'})` }
  if (typeof message !== 'string') return { reason: `the SNS envelope's Message is ${message === undefined ? 'missing' : `${message === null ? 'null' : typeof message}, not a string`}` }
  if (message.trim() === '') return { reason: "the SNS envelope's Message is blank" }
  return { sourceIdentifier: message.trim() }
}

/** Where the processor logs: pino's and Fastify's loggers both fit. */
export interface BatchLog {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

export interface SqsBatchDependencies {
  /** The minter's mint (createMinter): at most MAX_CHUNK distinct identifiers a call. */
  mint(request: MintRequest, deadline: Deadline): Promise<MintReport>
  downstream: Downstream
  /** Called after each mint with what POST /mint records for a request: the spec's four metrics (and superseded). */
  recordMint?(measurement: { durationMs: number; batchSize: number; successCount: number; failureCount: number; supersededCount: number }): void
  /** Called after each notify: messages sent and not sent downstream, and the requests it took. */
  recordDownstream?(outcome: { sent: number; failed: number; requests: number }): void
}

export type SqsBatchProcessor = ReturnType<typeof createSqsBatchProcessor>

/**
 * The SQS interface's rules, shared by the Lambda front door and the container's queue consumer:
 * read each body, mint each distinct source identifier once (in chunks of at most 100, one after
 * the other, within the deadline), send the canonical ID of every work minted downstream, and
 * answer the messages that were not fully processed as batch item failures:
 * - a body that is not a usable identifier (a poison message: it returns to the queue and, after
 *   maxReceiveCount, goes to the dead-letter queue for a person to look at);
 * - a work the minter failed (not found, malformed, rejected by the identified index);
 * - every message of a chunk whose mint met an unavailable database or Elasticsearch, or ran out
 *   of time;
 * - a work whose notification could not be sent.
 * Duplicates share their identifier's outcome. Each failure is logged with its messageId and reason.
 */
export function createSqsBatchProcessor({ mint, downstream, recordMint, recordDownstream }: SqsBatchDependencies) {
  async function process(messages: QueueMessage[], { deadline, log }: { deadline: Deadline; log: BatchLog }): Promise<SqsBatchResponse> {
    const started = performance.now()
    const failed = new Set<string>()
    const fail = (messageId: string, reason: string, details: object = {}) => {
      failed.add(messageId)
      log.warn({ messageId, reason, ...details }, 'batch item failure')
    }

    // Messages by the source identifier they carry, in the order first seen.
    const messagesOf = new Map<string, string[]>()
    for (const message of messages) {
      const reading = readMessageBody(message.body)
      if ('reason' in reading) {
        fail(message.messageId, `poison message: ${reading.reason}`)
        continue
      }
      const same = messagesOf.get(reading.sourceIdentifier)
      if (same) same.push(message.messageId)
      else messagesOf.set(reading.sourceIdentifier, [message.messageId])
    }
    const distinct = [...messagesOf.keys()]
    const messageIdsOf = (sourceIdentifier: string) => messagesOf.get(sourceIdentifier) as string[]

    // Chunks are minted one after the other; each chunk's notifications go out while the next is minted.
    const notifications: Array<Promise<void>> = []
    let minted = 0
    for (let start = 0; start < distinct.length; start += MAX_CHUNK) {
      const chunk = distinct.slice(start, start + MAX_CHUNK)
      const chunkStarted = performance.now()
      let report: MintReport
      try {
        report = await mint({ sourceIdentifiers: chunk }, deadline)
      } catch (error) {
        const unavailable = error instanceof DependencyUnavailableError
        const reason = unavailable ? error.message : `minting failed: ${describeError(error)}`
        if (!unavailable) log.error({ err: error }, 'unexpected error minting an SQS chunk')
        for (const sourceIdentifier of chunk) for (const messageId of messageIdsOf(sourceIdentifier)) fail(messageId, reason, { sourceIdentifier })
        continue
      }
      const durationMs = performance.now() - chunkStarted
      const { result, superseded, canonicalIds } = report
      for (const entry of superseded) log.info(entry, 'superseded: the identified index keeps another copy')
      recordMint?.({ durationMs, batchSize: chunk.length, successCount: result.successes.length, failureCount: result.failures.length, supersededCount: superseded.length })
      log.info({ sourceIdentifiers: chunk.length, successCount: result.successes.length, failureCount: result.failures.length, durationMs: Math.round(durationMs * 10) / 10 }, 'sqs chunk minted')
      for (const failure of result.failures) {
        for (const messageId of messageIdsOf(failure.sourceIdentifier)) fail(messageId, failure.error, { sourceIdentifier: failure.sourceIdentifier })
      }
      minted += result.successes.length
      const successes = result.successes.map((sourceIdentifier) => ({ sourceIdentifier, canonicalId: canonicalIds.get(sourceIdentifier) as string }))
      notifications.push(
        downstream.notify(successes.map((s) => s.canonicalId), deadline).then((outcome) => {
          recordDownstream?.({ sent: outcome.sent, failed: outcome.failed.size, requests: outcome.requests })
          for (const { sourceIdentifier, canonicalId } of successes) {
            const reason = outcome.failed.get(canonicalId)
            if (reason === undefined) continue
            for (const messageId of messageIdsOf(sourceIdentifier)) fail(messageId, `minted and indexed as ${canonicalId}, but not notified downstream: ${reason}`, { sourceIdentifier, canonicalId })
          }
        }, (error: unknown) => {
          log.error({ err: error }, 'unexpected error notifying downstream')
          for (const { sourceIdentifier, canonicalId } of successes) {
            for (const messageId of messageIdsOf(sourceIdentifier)) fail(messageId, `minted and indexed as ${canonicalId}, but not notified downstream: ${describeError(error)}`, { sourceIdentifier, canonicalId })
          }
        }),
      )
    }
    await Promise.all(notifications)

    const batchItemFailures = messages.filter((m) => failed.delete(m.messageId)).map((m) => ({ itemIdentifier: m.messageId }))
    log.info(
      { messages: messages.length, sourceIdentifiers: distinct.length, minted, batchItemFailures: batchItemFailures.length, durationMs: Math.round((performance.now() - started) * 10) / 10 },
      'sqs batch processed',
    )
    return { batchItemFailures }
  }

  return { process }
}
