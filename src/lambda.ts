// The one Lambda entry: it recognises the kind of event and hands it to that kind's front door
// (src/front-doors/). Every front door turns its input into requests to the same app, so minting
// happens in one place whatever the caller.
import type { Context } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { httpFrontDoor, isHttpEvent } from './front-doors/http.js'
import { invokeMint, type DirectInvocation } from './front-doors/step-functions.js'

export { MintingError } from './front-doors/step-functions.js'

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

export async function handler(event: unknown, context: Context): Promise<unknown> {
  const app = await ready
  if (isHttpEvent(event)) return (serveHttp as NonNullable<typeof serveHttp>)(event, context)
  return invokeMint(app, internalToken, event as DirectInvocation, context)
}
