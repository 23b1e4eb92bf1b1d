import type { Message, SQSClient } from '@aws-sdk/client-sqs'
import fp from 'fastify-plugin'
import { ConfigError, type Config } from '../config.js'
import { Deadline } from '../services/deadline.js'
import { createDownstream, type Downstream } from '../services/downstream.js'
import { describeError } from '../services/errors.js'
import type { Minter } from '../services/minter.js'
import { createSqsBatchProcessor, type SqsBatchProcessor } from '../services/sqs-batch.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SQS interface's batch rules (src/services/sqs-batch.ts), wired to this app's minter, downstream, logs and metrics. */
    sqsBatches: SqsBatchProcessor
    /** Where minted works' canonical IDs are sent (use_downstream). */
    downstream: Downstream
    /** The queue the server consumes (queue_url), when one is configured: for /health. */
    inputQueue: { url: string; ping(deadline: Deadline): Promise<void> } | undefined
  }
}

export interface QueueOptions {
  config: Config
  minter: Minter
}

/** Messages asked for per ReceiveMessage (SQS's maximum). */
const RECEIVE_BATCH = 10
/**
 * The long poll's wait, in seconds. Stopping waits for an outstanding receive rather than cancel
 * it: SQS (and ElasticMQ) can still hand messages to a receive the client has given up on, and
 * those would stay invisible for the queue's visibility timeout, a receive spent towards the
 * dead-letter queue, without being minted. 10 s (SQS allows 20) keeps that wait short at shutdown.
 */
export const RECEIVE_WAIT_SECONDS = 10
/** Pause between polls after a failed SQS call, in ms, until a poll succeeds. */
const ERROR_BACKOFF_MS = 5_000

/**
 * The SQS interface's parts that live with the app: the downstream target chosen at start-up,
 * the batch processor both SQS front doors use, and, when queue_url is set, the container form:
 * an sqs-consumer long-polling that queue, processing each batch of messages exactly as the
 * Lambda does and deleting only those that succeeded. On close it stops polling (cancelling a
 * long poll that is only waiting), lets the batch in flight finish and its messages be deleted,
 * then releases the SQS clients; the database and Elasticsearch plugins close after it.
 */
export default fp(
  async (app, { config, minter }: QueueOptions) => {
    const usesSqs = config.use_downstream === 'sqs' || config.queue_url !== undefined
    // The AWS SDK and sqs-consumer (services/sqs.ts) load only when SQS is used.
    const sqs = usesSqs ? await import('../services/sqs.js') : undefined
    const client: SQSClient | undefined = sqs?.createSqsClient()
    if (client) {
      // The SDK would only complain at the first send; a missing region is a configuration error.
      const region = await client.config.region().catch(() => undefined)
      if (!region) throw new ConfigError('Invalid configuration: AWS_REGION is required when use_downstream is sqs or queue_url is set')
    }
    const downstream = await createDownstream(config, client ? { client } : {})
    const batches = createSqsBatchProcessor({
      mint: minter.mint,
      downstream,
      recordMint: (measurement) => app.metrics.recordMint(measurement),
      recordDownstream: (outcome) => app.metrics.recordDownstream(outcome),
    })
    app.decorate('downstream', downstream)
    app.decorate('sqsBatches', batches)

    const queueUrl = config.queue_url
    if (!queueUrl || !client || !sqs) {
      app.decorate('inputQueue', undefined)
      app.addHook('onClose', async () => {
        downstream.close()
        client?.destroy()
      })
      return
    }

    const { Consumer, GetQueueAttributesCommand } = sqs
    app.decorate('inputQueue', {
      url: queueUrl,
      async ping(deadline: Deadline) {
        await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }), { abortSignal: deadline.signal })
      },
    })

    const log = app.log.child({ queueUrl })
    let batch = 0
    const consumer = Consumer.create({
      queueUrl,
      sqs: client,
      batchSize: RECEIVE_BATCH,
      waitTimeSeconds: RECEIVE_WAIT_SECONDS,
      // How long stop() waits for what is in flight: the outstanding receive, then the batch it
      // brings, within its own budget, and its deletes (src/server.ts's grace covers this).
      pollingCompleteWaitTimeMs: consumerStopMs(config),
      handleMessageBatch: async (messages: Message[]) => {
        const batchLog = log.child({ batch: ++batch })
        const { batchItemFailures } = await batches.process(
          messages.map((message) => ({ messageId: message.MessageId ?? '', body: message.Body })),
          { deadline: new Deadline(config.MINT_TIMEOUT_MS), log: batchLog },
        )
        const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier))
        // Returned messages are deleted; the rest become visible again after the visibility timeout.
        return messages.filter((message) => !failed.has(message.MessageId ?? ''))
      },
    })
    // sqs-consumer polls again at once after a failed receive (a missing queue, say, answers at
    // once): after an error the consumer waits ERROR_BACKOFF_MS between polls until one succeeds.
    let backingOff = false
    consumer.on('error', (error) => {
      if (!consumer.status.isRunning && (error as { code?: unknown }).code === 'AbortError') return
      log.warn({ error: describeError(error) }, 'queue consumer: SQS call failed')
      if (!backingOff && consumer.status.isRunning) {
        backingOff = true
        consumer.updateOption('pollingWaitTimeMs', ERROR_BACKOFF_MS)
      }
    })
    const recovered = () => {
      if (!backingOff) return
      backingOff = false
      consumer.updateOption('pollingWaitTimeMs', 0)
    }
    consumer.on('empty', recovered)
    consumer.on('response_processed', recovered)
    consumer.on('processing_error', (error) => log.error({ err: error }, 'queue consumer: processing a batch failed'))

    app.addHook('onReady', async () => {
      // A Lambda function is frozen between invocations: its queue is an event source mapping's to read.
      if (process.env.AWS_LAMBDA_FUNCTION_NAME) {
        log.warn('queue_url is ignored in Lambda: an SQS event source mapping feeds the function')
        return
      }
      consumer.start()
      log.info('consuming the input queue')
    })
    app.addHook('onClose', async () => {
      if (consumer.status.isRunning) {
        // Never aborted (see RECEIVE_WAIT_SECONDS): what the last receive brings is minted and deleted.
        const stopped = new Promise((resolve) => consumer.once('stopped', resolve))
        consumer.stop()
        await stopped
        log.info('stopped consuming the input queue')
      }
      downstream.close()
      client.destroy()
    })
  },
  { name: 'queue', dependencies: ['observability'] },
)

/**
 * The longest the queue consumer takes to stop, in ms: an outstanding receive (RECEIVE_WAIT_SECONDS),
 * then the batch it brings within MINT_TIMEOUT_MS, then 5 s for its notifications and deletes.
 */
export function consumerStopMs(config: Pick<Config, 'MINT_TIMEOUT_MS'>): number {
  return RECEIVE_WAIT_SECONDS * 1000 + config.MINT_TIMEOUT_MS + 5_000
}
