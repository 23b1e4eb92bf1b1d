// `npm run dev`: local defaults, the dev indices with the real mappings, a few sample works, a local
// input queue on ElasticMQ that the server consumes (canonical IDs written to stdout), then the server.
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'
import { Client } from '@elastic/elasticsearch'
import { loadConfig } from '../src/config.js'
import { ensureIndex, seedSourceWorks } from '../fixtures/indices.js'
import { DEV_INPUT_QUEUE, localEnvironment, useLocalSqs } from '../fixtures/local-env.js'
import { devSampleWorks } from '../fixtures/works.js'

Object.assign(process.env, localEnvironment())
useLocalSqs()
// The SQS interface's container form on the local queue, unless the environment chooses otherwise.
// As deployed, a message that fails three receives moves to a dead-letter queue.
if (!process.env.queue_url) {
  const sqs = new SQSClient({})
  const { QueueUrl: deadLetterUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${DEV_INPUT_QUEUE}-dlq` }))
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['QueueArn'] }))
  const redrive = JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount: 3 })
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: DEV_INPUT_QUEUE, Attributes: { RedrivePolicy: redrive } }))
  sqs.destroy()
  process.env.queue_url = QueueUrl
}
if (!process.env.use_downstream) process.env.use_downstream = 'stdio'
const config = loadConfig()

const es = new Client({ node: `${config.es_upstream_protocol}://${config.es_upstream_host}:${config.es_upstream_port}` })
await ensureIndex(es, config.es_source_index, 'source')
await ensureIndex(es, config.es_identified_index, 'identified')
const samples = devSampleWorks()
await seedSourceWorks(es, config.es_source_index, samples)
await es.close()

await import('../src/server.js')
const base = `http://${config.HOST}:${config.PORT}`
process.stdout.write(
  `\nid-minter is running at ${base}\n` +
    `  Swagger UI: ${base}/documentation\n` +
    `  Health:     ${base}/health\n` +
    `  Sample works in ${config.es_source_index}: ${samples.map((s) => s.id).join(', ')}\n` +
    `  Consuming:  ${config.queue_url} (downstream: ${config.use_downstream})\n` +
    `  Send one:   npm run queue:send -- ${samples[0]?.id ?? 'sierra-123456'}\n\n`,
)
