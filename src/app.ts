import SerializerSelector from '@fastify/fast-json-stringify-compiler'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyError, type FastifyServerOptions } from 'fastify'
import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Config } from './config.js'
import apiKeysPlugin from './plugins/api-keys.js'
import databasePlugin from './plugins/database.js'
import observabilityPlugin from './plugins/observability.js'
import queuePlugin from './plugins/queue.js'
import elasticsearchPlugin from './plugins/elasticsearch.js'
import healthRoutes from './routes/health.js'
import lookupRoutes from './routes/lookup.js'
import metricsRoutes from './routes/metrics.js'
import mintRoutes from './routes/mint.js'
import reprocessRoutes from './routes/reprocess.js'
import { DependencyUnavailableError } from './services/errors.js'
import { createIdentifierReader } from './services/identifier-store/reader.js'
import { createIdentifierStore } from './services/identifier-store/store.js'
import { createMinter } from './services/minter.js'
import { createReprocessor } from './services/reprocess.js'
import { createWorkStore } from './services/work-store.js'
import { loggerOptions } from './logger.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface BuildOptions {
  /** Where log lines go (tests read them); standard output when omitted. */
  logStream?: NodeJS.WritableStream
  /** The secret the Lambda adapter's direct invocations present instead of an API key (plugins/api-keys.ts). */
  internalToken?: string
  /**
   * What only an HTTP caller sees (default true): the security headers, /documentation (the
   * OpenAPI document and the Swagger UI), /health, /metrics and the process metrics, the look-up
   * routes. The Lambda's app for direct invocations (Step Functions, SQS, reprocess), which reads
   * only the answers of POST /mint and POST /reprocess and the SQS batch rules, leaves them out:
   * building them was most of what a cold start spent beyond the libraries and the mint.
   */
  http?: boolean
  /**
   * Compile each response schema's serializer when it is first used instead of at start-up (default
   * false). A direct invocation uses one or two of them; a server compiles every one up front, so a
   * schema fast-json-stringify cannot compile stops it from starting.
   */
  lazySerializers?: boolean
}

/** Fastify's own serializer compiler (fast-json-stringify), each schema compiled on its first use. */
function lazySerializers(): SerializerSelector.SerializerFactory {
  const factory = SerializerSelector()
  return (externalSchemas, options) => {
    let compiler: SerializerSelector.SerializerCompiler | undefined
    return (route) => {
      let serialize: SerializerSelector.Serializer | undefined
      return (doc) => (serialize ??= (compiler ??= factory(externalSchemas, options))(route))(doc)
    }
  }
}

/** A correlation id a caller may send in x-request-id: short and printable, or we make our own. */
const REQUEST_ID = /^[\w.:-]{1,128}$/

/** The one place the application is composed: plugins, then routes, then the error handlers. */
export async function buildApp(config: Config, options: BuildOptions = {}) {
  const fastifyOptions: FastifyServerOptions = {
    logger: { ...loggerOptions(config), ...(options.logStream ? { stream: options.logStream } : {}) },
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    // observability logs one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Mint requests are small (100 identifiers); anything near this is not one.
    bodyLimit: 1024 * 1024,
    // A request that has not arrived whole within a minute is dropped (slow-client protection).
    requestTimeout: 60_000,
    // Validation must not coerce: 123 is not a source identifier, and "true" is not a jobId's absence.
    ajv: { customOptions: { coerceTypes: false, validateSchema: false } },
    ...(options.lazySerializers ? { schemaController: { compilersFactory: { buildSerializer: lazySerializers() } } } : {}),
  }
  const app = Fastify(fastifyOptions).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('config', config)
  await app.register(databasePlugin, config)
  await app.register(elasticsearchPlugin, config)
  const http = options.http ?? true
  await app.register(observabilityPlugin, { config, processMetrics: http })
  await app.register(apiKeysPlugin, { config, ...(options.internalToken ? { internalToken: options.internalToken } : {}) })
  if (http) {
    // Security headers on every response; the Swagger UI pages set their own content policy.
    // Imported here, so that an app without HTTP loads neither them nor @fastify/static.
    await app.register(import('@fastify/helmet'), { contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null } } })
    await app.register(import('./plugins/swagger.js'), { ui: config.SWAGGER_UI })
  }

  // Once closing, a response says Connection: close, so the keep-alive connection of a request that
  // was in flight ends with it; otherwise close() waits for the client to hang up (keepAliveTimeout,
  // 72 s) and a SIGTERM'd server is killed by close-with-grace's 25 s delay, exit code 1.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
    if (closing) reply.header('connection', 'close')
  })

  // Handlers first: routes registered after them inherit them.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DependencyUnavailableError) {
      request.log.warn({ err: error, dependency: error.dependency }, 'dependency unavailable')
      return reply.code(503).send({ statusCode: 503, error: STATUS_CODES[503], message: error.message })
    }
    const statusCode = error.statusCode ?? 500
    if (statusCode >= 400 && statusCode < 500) {
      return reply.code(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message: error.message })
    }
    request.log.error({ err: error }, 'request failed')
    return reply.code(500).send({ statusCode: 500, error: STATUS_CODES[500], message: 'Internal Server Error' })
  })

  app.setNotFoundHandler((request, reply) => {
    return reply
      .code(404)
      .send({ statusCode: 404, error: STATUS_CODES[404], message: `Route ${request.method} ${request.url} not found` })
  })

  const works = createWorkStore({
    source: app.elasticsearch.source,
    target: app.elasticsearch.target,
    sourceIndex: config.es_source_index,
    targetIndex: config.es_identified_index,
    maxBulkBytes: config.BULK_MAX_BYTES,
  })
  const identifiers = createIdentifierStore({
    primary: app.database.primaryPool,
    replica: app.database.replicaPool,
    ready: app.database.ready,
  })
  const minter = createMinter({ identifiers, works })
  await app.register(mintRoutes, { minter })
  // Reprocessing drives the same minter over a window of the source index, or all of it.
  await app.register(reprocessRoutes, { reprocessor: createReprocessor({ works, minter, chunkBudgetMs: config.MINT_TIMEOUT_MS }) })
  // The SQS interface: downstream notifications, the batch rules, and the queue consumer when queue_url is set.
  await app.register(queuePlugin, { config, minter })
  if (http) {
    await app.register(healthRoutes, { dependencies: { database: app.database, works, queue: app.inputQueue } })
    await app.register(lookupRoutes, {
      reader: createIdentifierReader({ primary: app.database.primaryPool, replica: app.database.replicaPool, ready: app.database.ready }),
    })
    await app.register(metricsRoutes)
  }

  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
