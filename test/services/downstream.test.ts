/**
 * Downstream notifications against a real SQS-compatible server (ElasticMQ): one message per
 * canonical ID in SendMessageBatch calls of 10, entries SQS refuses reported and not retried,
 * calls that fail as a whole retried (the server unreachable through the loopback proxy, then
 * back), and a downstream that cannot be reached turning minted works into batch item failures.
 */
import { SQSClient } from '@aws-sdk/client-sqs'
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { Deadline } from '../../src/services/deadline.js'
import { createStdioDownstream } from '../../src/services/downstream.js'
import { createSqsDownstream } from '../../src/services/sqs.js'
import { setup } from '../helpers.js'
import { TcpProxy } from '../reliability/proxy.js'
import { createQueue, drainBodies, localAwsEnv, sqs } from '../sqs/support.js'

const silent = { info: () => {}, warn: () => {}, error: () => {} }
const ids = (n: number, prefix = 'a') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(7, '0')}`)

t.test('createSqsDownstream: one message per canonical ID, 10 per SendMessageBatch, repeats sent once', async (t) => {
  const queue = await createQueue(t, 'down')
  const downstream = createSqsDownstream({ queueUrl: queue.url, client: sqs })
  const canonicalIds = ids(23)
  const outcome = await downstream.notify([...canonicalIds, ...canonicalIds.slice(0, 5)], new Deadline(10_000))
  t.same({ sent: outcome.sent, failed: [...outcome.failed], requests: outcome.requests }, { sent: 23, failed: [], requests: 3 })
  t.same((await drainBodies(queue.url, 23)).sort(), canonicalIds.sort(), 'the queue holds each ID once, as plain text')
})

t.test('createSqsDownstream: an entry SQS refuses is reported with its reason, not retried, and the rest are sent', async (t) => {
  const queue = await createQueue(t, 'down')
  const downstream = createSqsDownstream({ queueUrl: queue.url, client: sqs })
  // U+0001 is outside the characters SQS allows in a message body: SQS refuses that entry alone (SenderFault).
  const refused = 'bad\u0001id'
  const outcome = await downstream.notify(['good2222', refused, 'good3333'], new Deadline(10_000))
  t.equal(outcome.sent, 2)
  t.equal(outcome.requests, 1, 'a sender fault is not sent again')
  t.match(outcome.failed.get(refused), /^SQS refused the message: /)
  t.same((await drainBodies(queue.url, 2)).sort(), ['good2222', 'good3333'])
})

t.test('createSqsDownstream: calls that fail as a whole are retried, and succeed once SQS is back', async (t) => {
  const queue = await createQueue(t, 'down')
  const proxy = await TcpProxy.start({ targetPort: 9324 })
  t.teardown(() => proxy.close())
  const endpoint = `http://127.0.0.1:${proxy.port}`
  const client = new SQSClient({ region: localAwsEnv.AWS_REGION, endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 })
  t.teardown(() => client.destroy())
  const downstream = createSqsDownstream({ queueUrl: queue.url.replace('http://127.0.0.1:9324', endpoint), client, retryDelayMs: 1500 })
  proxy.cut()
  const pending = downstream.notify(ids(15, 'r'), new Deadline(20_000))
  // The first attempt fails at once (connection refused); SQS is back before the retry, 1.5 s later.
  await new Promise((resolve) => setTimeout(resolve, 700))
  proxy.restore()
  const outcome = await pending
  t.same({ sent: outcome.sent, failed: [...outcome.failed], requests: outcome.requests }, { sent: 15, failed: [], requests: 4 }, 'two calls failed, two retried')
  t.same((await drainBodies(queue.url, 15)).sort(), ids(15, 'r').sort())

  proxy.cut()
  const gone = await downstream.notify(ids(3, 'g'), new Deadline(20_000))
  t.equal(gone.requests, 3, 'three attempts in all')
  t.equal(gone.failed.size, 3)
  t.match(gone.failed.get('g0000000'), /^SendMessageBatch to .* failed: /, 'each ID the reason it was not sent')
})

t.test('createStdioDownstream: one line per canonical ID', async (t) => {
  let written = ''
  const downstream = createStdioDownstream((text) => (written += text))
  t.same((await downstream.notify(['abcdefgh', 'bcdefghj', 'abcdefgh'], new Deadline(1000))).sent, 2)
  t.equal(written, 'abcdefgh\nbcdefghj\n')
})

t.test('an SQS batch whose notifications cannot be sent: the works are minted and indexed, their messages are batch item failures', async (t) => {
  const gone = await createQueue(t, 'gone')
  const ctx = await setup(t, 'downstream-gone', { use_downstream: 'sqs', downstream_queue_url: `${gone.url}-missing` })
  const works = Array.from({ length: 12 }, (_, i) => makeWork({ value: `bgone${i}` }))
  await ctx.seed(works)
  const answer = await ctx.app.sqsBatches.process(works.map((w, i) => ({ messageId: `m${i}`, body: w.id })), { deadline: new Deadline(20_000), log: silent })
  t.same(answer.batchItemFailures.map((f) => f.itemIdentifier), works.map((_, i) => `m${i}`), 'every message is a failure, to be redelivered')
  const mappings = await ctx.mappings()
  t.equal(mappings.length, 12, 'the works were minted')
  for (const { CanonicalId } of mappings) t.ok(await ctx.identified(CanonicalId), `${CanonicalId} is indexed`)
  const metrics = (await ctx.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /^id_minter_downstream_messages_total\{outcome="failed"\} 12$/m, 'counted as failed notifications')
})
