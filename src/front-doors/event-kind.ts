import type { SQSRecord } from 'aws-lambda'
import { isHttpEvent } from './http.js'
import { isReprocessEvent } from './reprocess.js'

/**
 * An event this function has no front door for: an S3, SNS, Kinesis, DynamoDB Streams, SES,
 * Kafka or EventBridge event, a Records array mixing SQS with other sources, or an SQS event too
 * malformed to answer record by record. Thrown, never answered: a normal return would tell Lambda
 * that every record was processed, and an SQS event source mapping would delete them all.
 */
export class UnsupportedEventError extends Error {
  override name = 'UnsupportedEventError'
}

export type EventKind =
  | { kind: 'sqs'; records: SQSRecord[] }
  | { kind: 'http' }
  /** A Step Functions task's direct invocation: the event is a mint request. */
  | { kind: 'direct' }
  /** A direct invocation whose event is a reprocess request (front-doors/reprocess.ts). */
  | { kind: 'reprocess' }

const TAKES = 'this function takes SQS events (eventSource aws:sqs), HTTP events and Step Functions mint and reprocess requests'

/** The source a record names: eventSource for most services, EventSource for SNS. */
function recordSource(record: unknown): string {
  if (typeof record !== 'object' || record === null) return 'a record that is not an object'
  const { eventSource, EventSource } = record as Record<string, unknown>
  const source = typeof eventSource === 'string' ? eventSource : EventSource
  return typeof source === 'string' ? source : 'a record without eventSource'
}

/**
 * Which front door an event goes to, or UnsupportedEventError naming what arrived:
 * - an object with a Records field: an SQS event when Records is a non-empty array of objects that
 *   all say eventSource "aws:sqs" and each carry a non-empty string messageId (what a batch item
 *   failure names); any other Records (other sources, a mix, empty, not an array) is unsupported;
 * - a Kafka (MSK, self-managed) or EventBridge event: unsupported;
 * - API Gateway (REST, HTTP API), Function URL and ALB events: HTTP;
 * - an object with `window` or `full` and no `sourceIdentifiers`: a reprocess request;
 * - anything else: a direct invocation (Step Functions), which answers bad input as a failure.
 */
export function eventKind(event: unknown): EventKind {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return { kind: 'direct' }
  const e = event as Record<string, unknown>
  if ('Records' in e) {
    const records = e.Records
    if (!Array.isArray(records) || records.length === 0) {
      throw new UnsupportedEventError(`Unsupported event: Records is ${Array.isArray(records) ? 'empty' : 'not an array'}; ${TAKES}`)
    }
    const sources = [...new Set(records.map(recordSource))]
    if (sources.length !== 1 || sources[0] !== 'aws:sqs') {
      throw new UnsupportedEventError(`Unsupported event: Records from ${sources.join(', ')}; ${TAKES}`)
    }
    const unnamed = records.findIndex((r) => typeof (r as Record<string, unknown>).messageId !== 'string' || (r as Record<string, unknown>).messageId === '')
    if (unnamed >= 0) {
      throw new UnsupportedEventError(`Malformed SQS event: record ${unnamed} has no messageId, so its outcome cannot be reported; the whole batch is retried`)
    }
    return { kind: 'sqs', records: records as SQSRecord[] }
  }
  if (typeof e.eventSource === 'string') throw new UnsupportedEventError(`Unsupported event: eventSource ${e.eventSource}; ${TAKES}`)
  if (typeof e['detail-type'] === 'string' && typeof e.source === 'string') {
    throw new UnsupportedEventError(`Unsupported event: EventBridge event from ${e.source} (${e['detail-type']}); ${TAKES}`)
  }
  if (isHttpEvent(event)) return { kind: 'http' }
  if (isReprocessEvent(event)) return { kind: 'reprocess' }
  return { kind: 'direct' }
}
