/**
 * The container form of the SQS interface: an app built with queue_url consumes a real ElasticMQ
 * queue with sqs-consumer, mints what arrives exactly as the Lambda does, sends the canonical IDs
 * to a real downstream queue, deletes only the messages that succeeded, reports the queue in
 * /health, and closes without dropping what its last long poll receives. Also: the configuration that
 * chooses the downstream, and the metrics of an SQS batch.
 */
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { loadConfig } from '../../src/config.js'
import { localEnv } from '../../fixtures/local-env.js'
import { Deadline } from '../../src/services/deadline.js'
import { RECEIVE_WAIT_SECONDS } from '../../src/plugins/queue.js'
import { setup } from '../helpers.js'
import { directDatabase, eventually } from '../reliability/support.js'
import { createQueue, drainBodies, queueDepth, sendBodies, snsEnvelope } from '../sqs/support.js'

const silent = { info: () => {}, warn: () => {}, error: () => {} }

t.test('the server consumes queue_url: mints each message, notifies downstream, deletes only what succeeded', async (t) => {
  const input = await createQueue(t, 'in', { VisibilityTimeout: '60' })
  const downstream = await createQueue(t, 'down')
  const ctx = await setup(t, 'queue-consumer', { queue_url: input.url, use_downstream: 'sqs', downstream_queue_url: downstream.url })
  const works = Array.from({ length: 25 }, (_, i) => makeWork({ value: `bconsume${i}`, nested: 2 }))
  await ctx.seed(works)
  const failing = ['Work[sierra-system-number/bnowhere]', snsEnvelope(''), '{"Type":"Notification"']
  await sendBodies(input.url, [...works.map((w, i) => (i % 2 ? snsEnvelope(w.id) : w.id)), ...failing])

  const received: string[] = []
  const arrived = await eventually(async () => {
    received.push(...(await drainBodies(downstream.url, 0)))
    return received.length >= works.length
  }, 60_000, 200)
  t.ok(arrived, `the canonical IDs arrived downstream (${received.length} of ${works.length})`)
  const mapping = new Map((await ctx.mappings()).map((r) => [`${r.SourceSystem}/${r.SourceId}`, r.CanonicalId]))
  const expected = works.map((w) => mapping.get(`sierra-system-number/${w.id.slice('Work[sierra-system-number/'.length, -1)}`))
  t.same([...received].sort(), [...expected].sort(), 'one message per work, its canonical ID as the database holds it')
  for (const id of expected) t.ok(await ctx.identified(id as string), `${id} is indexed`)

  t.ok(await eventually(async () => {
    const depth = await queueDepth(input.url)
    return depth.visible === 0 && depth.inFlight === failing.length
  }, 10_000), 'the successes were deleted; the failures stay on the queue, to come back after the visibility timeout')

  const health = await ctx.app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  t.match(health.json().checks.queue, { status: 'ok' }, '/health reports the queue')

  // Idle now, in a long poll. Closing waits for that receive instead of cancelling it: SQS can
  // still hand messages to a receive the client has abandoned, and they would stay invisible,
  // unminted, for the visibility timeout. A message sent as closing starts is minted and deleted,
  // or left visible on the queue: never taken and dropped.
  const late = makeWork({ value: 'bconsume-late', nested: 2 })
  await ctx.seed([late])
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  const closing = performance.now()
  const closed = ctx.app.close()
  await sendBodies(input.url, [late.id])
  await closed
  const closeMs = performance.now() - closing
  t.ok(closeMs < RECEIVE_WAIT_SECONDS * 1000 + 5_000, `app.close() while polling took ${Math.round(closeMs)} ms: at most the long poll's wait and the late message's mint`)
  const depth = await queueDepth(input.url)
  const lateMinted = (await db.mappings()).some((r) => r.SourceId === 'bconsume-late')
  t.equal(depth.inFlight, failing.length, 'no message taken and left unprocessed: only the failures wait out their visibility timeout')
  t.equal(depth.visible + (lateMinted ? 1 : 0), 1, lateMinted ? 'the late message was minted and deleted' : 'the late message is still on the queue, visible')
})

t.test('/health is 503 naming the queue when queue_url does not answer', async (t) => {
  const input = await createQueue(t, 'gone')
  const ctx = await setup(t, 'queue-gone', { queue_url: `${input.url}-missing` })
  const health = await ctx.app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 503)
  t.match(health.json().checks, { database: { status: 'ok' }, queue: { status: 'error', error: /queue/i } })
  const without = await setup(t, 'queue-none')
  t.notOk('queue' in (await without.app.inject({ method: 'GET', url: '/health' })).json().checks, 'no queue check without queue_url')
})

t.test('loadConfig: use_downstream and its queue', async (t) => {
  t.equal(loadConfig(localEnv).use_downstream, 'none', 'no downstream unless chosen')
  t.throws(() => loadConfig({ ...localEnv, use_downstream: 'sqs' }), { message: 'Invalid configuration: downstream_queue_url is required when use_downstream is sqs' })
  t.throws(() => loadConfig({ ...localEnv, use_downstream: 'sns' }), { message: /^Invalid configuration: use_downstream="sns"/ })
  t.throws(() => loadConfig({ ...localEnv, queue_url: 'not a url' }), { message: /^Invalid configuration: queue_url="not a url"/ })
  t.equal(loadConfig({ ...localEnv, use_downstream: 'sqs', downstream_queue_url: 'http://127.0.0.1:9324/000000000000/q' }).downstream_queue_url, 'http://127.0.0.1:9324/000000000000/q')
})

t.test('an SQS batch records the spec\'s metrics per mint of up to 100, and the downstream messages', async (t) => {
  const downstream = await createQueue(t, 'down')
  const ctx = await setup(t, 'queue-metrics', { use_downstream: 'sqs', downstream_queue_url: downstream.url })
  const works = Array.from({ length: 150 }, (_, i) => makeWork({ value: `bmetric${i}` }))
  await ctx.seed(works)
  const messages = [...works.map((w, i) => ({ messageId: `m${i}`, body: w.id })), { messageId: 'missing', body: 'Work[sierra-system-number/bnone]' }]
  const answer = await ctx.app.sqsBatches.process(messages, { deadline: new Deadline(30_000), log: silent })
  t.same(answer, { batchItemFailures: [{ itemIdentifier: 'missing' }] })
  const metrics = (await ctx.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /^id_minter_batch_size_count 2$/m, 'two mints: 100 and 51 identifiers')
  t.match(metrics, /^id_minter_batch_size_sum 151$/m)
  t.match(metrics, /^id_minter_identifiers_total\{outcome="success"\} 150$/m)
  t.match(metrics, /^id_minter_identifiers_total\{outcome="failure"\} 1$/m)
  t.match(metrics, /^id_minter_downstream_messages_total\{outcome="sent"\} 150$/m)
  t.match(metrics, /^id_minter_downstream_messages_total\{outcome="failed"\} 0$/m)
  t.match(metrics, /^id_minter_downstream_requests_total 15$/m, 'ten canonical IDs per SendMessageBatch')
  t.equal((await drainBodies(downstream.url, 150)).length, 150)
})
