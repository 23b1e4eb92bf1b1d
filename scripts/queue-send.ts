// `npm run queue:send -- [--queue URL] [--sns] SOURCE_IDENTIFIER...`: sends each source identifier
// as one SQS message, as the pipeline does, to the queue `npm run dev` consumes (or --queue). With
// --sns each body is wrapped in an SNS notification envelope (raw message delivery off).
import { GetQueueUrlCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs'
import { parseArgs } from 'node:util'
import { DEV_INPUT_QUEUE, useLocalSqs } from '../fixtures/local-env.js'
import { snsEnvelope } from '../fixtures/sqs-events.js'

const USAGE = `Usage: npm run queue:send -- [--queue URL] [--sns] SOURCE_IDENTIFIER...

  --queue URL   the queue to send to (default: ${DEV_INPUT_QUEUE} on the local ElasticMQ, which npm run dev consumes)
  --sns         wrap each body in an SNS notification envelope
`

let parsed
try {
  parsed = parseArgs({ options: { queue: { type: 'string' }, sns: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } }, allowPositionals: true, strict: true })
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${USAGE}`)
  process.exit(2)
}
if (parsed.values.help || parsed.positionals.length === 0) {
  process.stdout.write(USAGE)
  process.exit(parsed.values.help ? 0 : 2)
}

useLocalSqs()
const sqs = new SQSClient({})
try {
  const queueUrl = parsed.values.queue ?? (await sqs.send(new GetQueueUrlCommand({ QueueName: DEV_INPUT_QUEUE }))).QueueUrl
  const bodies = parsed.positionals.map((id) =>
    parsed.values.sns ? snsEnvelope(id) : id,
  )
  let failed = 0
  for (let start = 0; start < bodies.length; start += 10) {
    const batch = bodies.slice(start, start + 10)
    const answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })) }))
    for (const sent of answer.Successful ?? []) process.stdout.write(`sent ${parsed.positionals[start + Number(sent.Id)]} as message ${sent.MessageId}\n`)
    for (const refused of answer.Failed ?? []) {
      failed++
      process.stderr.write(`not sent ${parsed.positionals[start + Number(refused.Id)]}: ${refused.Code} ${refused.Message ?? ''}\n`)
    }
  }
  process.exitCode = failed > 0 ? 1 : 0
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`)
  process.exitCode = 1
} finally {
  sqs.destroy()
}
