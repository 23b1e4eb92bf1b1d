import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client'
import type { Config } from '../config.js'

export interface MintMeasurement {
  durationMs: number
  batchSize: number
  successCount: number
  failureCount: number
  /** Successes whose copy the identified index did not take: it holds a newer one (a version conflict). */
  supersededCount: number
}

export interface DownstreamMeasurement {
  /** Canonical IDs sent downstream. */
  sent: number
  /** Canonical IDs that could not be sent after the retries (their messages are batch item failures). */
  failed: number
  /** Requests made to the target (SendMessageBatch calls, retries included). */
  requests: number
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: {
      /** Records one mint: CloudWatch EMF on stdout and the Prometheus registry. */
      recordMint(measurement: MintMeasurement): void
      /** Records one round of downstream notifications (SQS interface): messages sent and not sent, requests made. */
      recordDownstream(outcome: DownstreamMeasurement): void
      registry: Registry
    }
  }
  interface FastifyRequest {
    /** Set by the mint route, so the request's log line says how it went. */
    mintOutcome?: { successCount: number; failureCount: number }
  }
}

/**
 * The process metrics (CPU, memory, event loop lag, GC), collected once per process: each
 * collection enables an event-loop-delay monitor that nothing can disable, so collecting them
 * per app would leave one running for every app ever built (tests, the benchmark) after it closed.
 */
let processMetrics: Registry | undefined
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics })
  }
  return processMetrics
}

export interface ObservabilityOptions {
  config: Config
  /** Serve the process metrics (CPU, memory, event loop, GC) on /metrics; the Lambda's app for direct invocations has no /metrics. */
  processMetrics: boolean
}

/**
 * One log line per request (duration and outcome, with the request's correlation id and any
 * jobId), the spec's custom metrics as CloudWatch Embedded Metric Format, and Prometheus metrics.
 */
export default fp(
  async (app, { config, processMetrics: withProcessMetrics }: ObservabilityOptions) => {
    // Made by the first metric, not while a cold start is still building the app.
    let emfLogger: Metrics | undefined
    const emf = () => (emfLogger ??= new Metrics({ namespace: config.metrics_namespace, serviceName: 'id-minter' }))
    // This app's own metrics, and what /metrics serves: them and the process metrics.
    const own = new Registry()
    app.addHook('onClose', async () => own.clear())
    const httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [own],
    })
    const mintDuration = new Histogram({
      name: 'id_minter_processing_time_seconds',
      help: 'Time to process one mint request.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [own],
    })
    const batchSize = new Histogram({
      name: 'id_minter_batch_size',
      help: 'Distinct source identifiers per mint request.',
      buckets: [1, 5, 10, 25, 50, 75, 100],
      registers: [own],
    })
    const identifiers = new Counter({
      name: 'id_minter_identifiers_total',
      help: 'Source identifiers processed, by outcome.',
      labelNames: ['outcome'],
      registers: [own],
    })

    const superseded = new Counter({
      name: 'id_minter_superseded_total',
      help: 'Works minted whose copy the identified index did not take, because it holds a newer one.',
      registers: [own],
    })

    const downstreamMessages = new Counter({
      name: 'id_minter_downstream_messages_total',
      help: 'Canonical IDs notified downstream (SQS interface), by outcome: sent, or failed after the retries.',
      labelNames: ['outcome'],
      registers: [own],
    })
    const downstreamRequests = new Counter({
      name: 'id_minter_downstream_requests_total',
      help: 'Requests made to the downstream target (SendMessageBatch calls, retries included).',
      registers: [own],
    })

    // Merged after every metric of this app is registered: merge copies the registries' contents.
    const registry = withProcessMetrics ? Registry.merge([processRegistry(), own]) : own
    app.decorate('metrics', {
      registry,
      recordMint({ durationMs, batchSize: size, successCount, failureCount, supersededCount }: MintMeasurement) {
        mintDuration.observe(durationMs / 1000)
        batchSize.observe(size)
        identifiers.inc({ outcome: 'success' }, successCount)
        identifiers.inc({ outcome: 'failure' }, failureCount)
        superseded.inc(supersededCount)
        if (!config.EMF_METRICS) return
        const metrics = emf()
        metrics.addMetric('id_minter.processing_time', MetricUnit.Milliseconds, durationMs)
        metrics.addMetric('id_minter.batch_size', MetricUnit.Count, size)
        metrics.addMetric('id_minter.success_count', MetricUnit.Count, successCount)
        metrics.addMetric('id_minter.failure_count', MetricUnit.Count, failureCount)
        metrics.addMetric('id_minter.superseded_count', MetricUnit.Count, supersededCount)
        metrics.publishStoredMetrics()
      },
      recordDownstream({ sent, failed, requests }: DownstreamMeasurement) {
        downstreamMessages.inc({ outcome: 'sent' }, sent)
        downstreamMessages.inc({ outcome: 'failed' }, failed)
        downstreamRequests.inc(requests)
        if (!config.EMF_METRICS) return
        const metrics = emf()
        metrics.addMetric('id_minter.downstream_sent_count', MetricUnit.Count, sent)
        metrics.addMetric('id_minter.downstream_failed_count', MetricUnit.Count, failed)
        metrics.publishStoredMetrics()
      },
    })

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched'
      httpDuration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000)
      request.log.info(
        {
          method: request.method,
          url: request.url,
          statusCode: reply.statusCode,
          durationMs: Math.round(reply.elapsedTime * 10) / 10,
          ...request.mintOutcome,
        },
        'request completed',
      )
    })
  },
  { name: 'observability' },
)
