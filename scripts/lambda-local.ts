// `npm run lambda:local`: the Lambda handler behind the Lambda invoke API, the way the Runtime
// Interface Emulator in the AWS base image serves it, on port 9001 as in the docker-compose setup:
//
//   curl -X POST "http://localhost:9001/2015-03-31/functions/function/invocations" \
//     -H "Content-Type: application/json" -d '{"sourceIdentifiers": ["sierra-test-123"], "jobId": "local-test"}'
//
// The body is the event; the answer is the handler's result as JSON with status 200. When the
// handler throws, the answer is still 200, with {errorType, errorMessage, trace} and the header
// X-Amz-Function-Error: Unhandled, as the Lambda Invoke API answers (that is what a state
// machine's Retry and Catch match errorType against).
//
// Local defaults come from fixtures/local-env.ts (a variable set in the environment wins); the
// indices are created with the real mappings and the dev sample works seeded, as `npm run dev` does.
//
// Environment: LAMBDA_LOCAL_PORT (9001; 0 picks a free port), LAMBDA_LOCAL_HOST (127.0.0.1),
// AWS_LAMBDA_FUNCTION_TIMEOUT (seconds, 30), AWS_LAMBDA_FUNCTION_NAME (only named in the context).
// Flags: --bundle serves dist/lambda/index.mjs (run `npm run build:lambda` first) instead of
// src/lambda.ts; --setup-only creates the indices, seeds them and exits (docker-compose uses it).
import { Client } from '@elastic/elasticsearch'
import type { Context } from 'aws-lambda'
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ensureIndex, seedSourceWorks } from '../fixtures/indices.js'
import { localEnvironment } from '../fixtures/local-env.js'
import { devSampleWorks } from '../fixtures/works.js'
import { loadConfig, type Config } from '../src/config.js'

type Handler = (event: unknown, context: Context) => Promise<unknown>

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/

/** The dev indices with the real mappings, and the sample works in the source index. */
export async function prepareLocalStores(config: Config): Promise<string[]> {
  const es = new Client({ node: `${config.es_upstream_protocol}://${config.es_upstream_host}:${config.es_upstream_port}` })
  try {
    await ensureIndex(es, config.es_source_index, 'source')
    await ensureIndex(es, config.es_identified_index, 'identified')
    const samples = devSampleWorks()
    await seedSourceWorks(es, config.es_source_index, samples)
    return samples.map((sample) => sample.id)
  } finally {
    await es.close()
  }
}

/** What the Node.js runtime reports for a thrown error. */
function errorPayload(error: unknown) {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') }
  }
  return { errorType: 'Error', errorMessage: String(error), trace: [] }
}

function lambdaContext(functionName: string, timeoutMs: number, requestId: string): Context {
  const deadline = Date.now() + timeoutMs
  const region = process.env.AWS_REGION ?? 'us-east-1'
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = body === undefined ? 'null' : JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  response.end(text)
}

/** An HTTP server that invokes handler like the Lambda invoke API does. */
export function invokeServer(handler: Handler, options: { functionName: string; timeoutMs: number }) {
  return createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    if (!INVOKE_PATH.test(url.pathname)) {
      return send(response, 404, { errorType: 'ResourceNotFoundException', errorMessage: `No route for ${url.pathname}` })
    }
    if (request.method !== 'POST') {
      return send(response, 405, { errorType: 'MethodNotAllowed', errorMessage: 'Invoke with POST' }, { allow: 'POST' })
    }
    const raw = await readBody(request)
    let event: unknown
    try {
      // The invoke API treats an empty payload as {}.
      event = raw.trim() === '' ? {} : JSON.parse(raw)
    } catch (error) {
      return send(response, 400, {
        errorType: 'InvalidRequestContentException',
        errorMessage: `Could not parse request body into json: ${(error as Error).message}`,
      })
    }

    const requestId = randomUUID()
    const started = performance.now()
    process.stderr.write(`START RequestId: ${requestId}\n`)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`Task timed out after ${(options.timeoutMs / 1000).toFixed(2)} seconds`)
        error.name = 'Sandbox.Timedout'
        reject(error)
      }, options.timeoutMs)
    })
    const headers = { 'x-amzn-requestid': requestId }
    try {
      const result = await Promise.race([handler(event, lambdaContext(options.functionName, options.timeoutMs, requestId)), timeout])
      send(response, 200, result, headers)
    } catch (error) {
      const payload = errorPayload(error)
      process.stderr.write(`ERROR RequestId: ${requestId} ${payload.errorType}: ${payload.errorMessage}\n`)
      send(response, 200, payload, { ...headers, 'x-amz-function-error': 'Unhandled' })
    } finally {
      clearTimeout(timer)
      process.stderr.write(`END RequestId: ${requestId}\nREPORT RequestId: ${requestId}\tDuration: ${(performance.now() - started).toFixed(2)} ms\n`)
    }
  })
}

async function main(args: string[]) {
  Object.assign(process.env, localEnvironment())
  const config = loadConfig()
  const seeded = await prepareLocalStores(config)
  if (args.includes('--setup-only')) {
    process.stdout.write(`indices ${config.es_source_index} and ${config.es_identified_index} ready; seeded ${seeded.join(', ')}\n`)
    return
  }

  // The bundle's entry has started its app when the import resolves; src/lambda.ts starts it in `ready`.
  const module = args.includes('--bundle')
    ? ((await import(new URL('../dist/lambda/index.mjs', import.meta.url).href)) as { handler: Handler })
    : await import('../src/lambda.js')
  if ('ready' in module) await module.ready
  const timeoutSeconds = Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? 30)
  const server = invokeServer(module.handler as Handler, {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function',
    timeoutMs: (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds : 30) * 1000,
  })
  const port = Number(process.env.LAMBDA_LOCAL_PORT ?? 9001)
  const host = process.env.LAMBDA_LOCAL_HOST ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  const shownHost = host === '0.0.0.0' || host === '127.0.0.1' ? 'localhost' : host
  process.stdout.write(
    `\nLambda handler (${args.includes('--bundle') ? 'dist/lambda/index.mjs' : 'src/lambda.ts'}) listening on ` +
      `http://${shownHost}:${address.port}/2015-03-31/functions/function/invocations\n` +
      `  Sample works in ${config.es_source_index}: ${seeded.join(', ')}\n\n`,
  )

  const stop = () => {
    server.close()
    // The handler's pools live as long as the module; nothing else is in flight once closed.
    server.closeAllConnections()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main(process.argv.slice(2))
