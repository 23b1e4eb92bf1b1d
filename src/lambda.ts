// The one Lambda entry: it recognises the kind of event and hands it to that kind's front door
// (src/front-doors/). Every front door turns its input into requests to the same app, so minting
// happens in one place whatever the caller.
import type { Context } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { eventKind } from './front-doors/event-kind.js'
import { httpFrontDoor } from './front-doors/http.js'
import { invokeReprocess } from './front-doors/reprocess.js'
import { handleSqsEvent } from './front-doors/sqs.js'
import { invokeMint, type DirectInvocation } from './front-doors/step-functions.js'

export { MintingError } from './front-doors/step-functions.js'
export { UnsupportedEventError } from './front-doors/event-kind.js'

// Initialised once per container, outside the handler, and reused by every invocation. Direct
// invocations (Step Functions) are authorised by IAM: the front doors' requests for them carry this
// container's random internal token instead of an API key. HTTP-shaped events (Function URL, ALB,
// API Gateway) reach the app as any HTTP request does, so the configured API keys apply to them.
const internalToken = randomBytes(32).toString('base64url')
// A promise rather than a top-level await, so that the deployed bundle can be CommonJS (which is
// what lets it carry a V8 code cache: see src/lambda-entry.ts); the entry awaits it, so a failed
// start-up still fails the Lambda init phase.
export const ready: Promise<FastifyInstance> = start()
// Awaited by every invocation; this only keeps a failed start from being reported twice.
ready.catch(() => {})
let serveHttp: ((event: unknown, context: Context) => Promise<unknown>) | undefined

async function start(): Promise<FastifyInstance> {
  const app = await buildApp(loadConfig(), { internalToken })
  serveHttp = httpFrontDoor(app)
  await app.ready()
  return app
}

/**
 * Recognises the event (front-doors/event-kind.ts) and hands it to its front door: an SQS batch
 * answers {batchItemFailures}; an HTTP event the app's HTTP answer; a direct invocation (Step
 * Functions) the mint result, or for a reprocess request the reprocess answer. Any other event with Records (S3, SNS, Kinesis, DynamoDB Streams, a
 * mix), a Kafka or an EventBridge event throws UnsupportedEventError naming its source.
 */
export async function handler(event: unknown, context: Context): Promise<unknown> {
  const app = await ready
  const kind = eventKind(event)
  if (kind.kind === 'sqs') return handleSqsEvent(app, kind.records, context)
  if (kind.kind === 'http') return (serveHttp as NonNullable<typeof serveHttp>)(event, context)
  if (kind.kind === 'reprocess') return invokeReprocess(app, internalToken, event as Record<string, unknown>, context)
  return invokeMint(app, internalToken, event as DirectInvocation, context)
}
