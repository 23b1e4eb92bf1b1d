// The one Lambda entry: it recognises the kind of event and hands it to that kind's front door
// (src/front-doors/). Every front door turns its input into requests to the same app, so minting
// happens in one place whatever the caller.
import type { Context } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { buildApp } from './app.js'
import { loadConfig, type Config } from './config.js'
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
//
// Direct invocations (Step Functions, SQS, reprocess) are answered by an app without what only an
// HTTP caller sees (buildApp's http: false), its response serializers compiled on first use: a cold
// start is mostly the building of an app, and this one is the part a direct invocation needs. The
// first HTTP event builds the whole app, as a server runs it, and it answers every HTTP event.
// Declared before `ready`: start() sets config before its first await.
let config: Config | undefined
let httpApp: Promise<{ app: FastifyInstance; serve: (event: unknown, context: Context) => Promise<unknown> }> | undefined
// A promise rather than a top-level await, so that the deployed bundle can be CommonJS (which is
// what lets it carry a V8 code cache: see src/lambda-entry.ts); the entry awaits it, so a failed
// start-up still fails the Lambda init phase.
export const ready: Promise<FastifyInstance> = start()
// Awaited by every invocation; this only keeps a failed start from being reported twice.
ready.catch(() => {})

async function start(): Promise<FastifyInstance> {
  config = loadConfig()
  const app = await buildApp(config, { internalToken, http: false, lazySerializers: true })
  // Closing the app `ready` gives (as tests do) closes the HTTP events' app too.
  app.addHook('onClose', async () => {
    const built = httpApp
    httpApp = undefined
    await (await built?.catch(() => undefined))?.app.close()
  })
  await app.ready()
  return app
}

/** The whole app, for HTTP events: built by the first one (and by the next, if that build failed). */
function forHttp() {
  if (!httpApp) {
    const building = (async () => {
      const app = await buildApp(config as Config, { internalToken })
      const serve = httpFrontDoor(app)
      await app.ready()
      return { app, serve }
    })()
    building.catch(() => {
      if (httpApp === building) httpApp = undefined
    })
    httpApp = building
  }
  return httpApp
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
  if (kind.kind === 'http') return (await forHttp()).serve(event, context)
  if (kind.kind === 'reprocess') return invokeReprocess(app, internalToken, event as Record<string, unknown>, context)
  return invokeMint(app, internalToken, event as DirectInvocation, context)
}
