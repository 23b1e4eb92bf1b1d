/**
 * The SQS interface in Lambda, against real parts: messages sent to ElasticMQ, the Lambda event
 * built from what ElasticMQ returns, src/lambda.ts in a child process (one "container"), works
 * minted into the test's own MariaDB database and Elasticsearch indices, and canonical IDs read
 * back from a real downstream queue. Expected canonical IDs come from the identifiers table
 * (SQL), keyed by the oracle's own walk of each work (test/oracle.ts).
 */
import t, { type Test } from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { isolatedConfig, prepareStores } from '../helpers.js'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { lambdaEnv, startLambdaHost, type LambdaHost } from '../reliability/lambda-host.js'
import { directDatabase, embeddedIdProblems, indexedDocument, rowKey, workKeys } from '../reliability/support.js'
import { createQueue, deliverOnce, drainBodies, localAwsEnv, queueDepth, receive, sendBodies, snsEnvelope, sqsEvent, type TestQueue } from '../sqs/support.js'

async function container(t: Test, name: string, downstream: TestQueue | undefined, overrides: Record<string, string> = {}) {
  const config = isolatedConfig(name)
  const es = await prepareStores(t, config)
  const host: LambdaHost = await startLambdaHost(
    lambdaEnv(config, {
      ...localAwsEnv,
      ...(downstream ? { use_downstream: 'sqs', downstream_queue_url: downstream.url } : {}),
      ...overrides,
    }),
  )
  t.teardown(() => host.close())
  const db = await directDatabase(t, config.IDENTIFIERS_DATABASE)
  /** Canonical ID of each work's root, from the identifiers table. */
  const rootIds = async (works: Array<{ work: unknown }>) => {
    const mapping = new Map((await db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
    return works.map((w) => mapping.get(workKeys(w.work).root))
  }
  return { config, es, host, db, rootIds, seed: (works: Array<{ id: string; work: unknown }>) => seedSourceWorks(es, config.es_source_index, works) }
}

const failuresOf = (outcome: { ok: boolean; result?: unknown }) => (outcome.result as { batchItemFailures: Array<{ itemIdentifier: string }> }).batchItemFailures

t.test('SQS event: N messages in, N works minted and indexed, N canonical IDs on the downstream queue', async (t) => {
  const input = await createQueue(t, 'in')
  const downstream = await createQueue(t, 'down')
  const ctx = await container(t, 'sqs-n', downstream)
  // 230 works: more than two mints' worth, so the batch is minted in chunks of 100, 100 and 30.
  const works = Array.from({ length: 230 }, (_, i) => makeWork({ value: `bsqs${i}`, nested: 2, sharedConcepts: [['Person', 'lc-names', `n-sqs${i % 5}`, 'P']] }))
  await ctx.seed(works)
  // As the pipeline sends them: a third in SNS envelopes, a third plain, a third with stray whitespace,
  // and 20 sent twice.
  const bodies = works.map((w, i) => (i % 3 === 0 ? snsEnvelope(w.id) : i % 3 === 1 ? w.id : `  ${w.id}\n`))
  bodies.push(...works.slice(0, 20).map((w) => w.id))
  await sendBodies(input.url, bodies)

  const delivery = await deliverOnce(input, (event) => ctx.host.invoke(event, 60_000))
  t.equal(delivery.messages.length, 250, 'ElasticMQ handed over every message')
  t.ok(delivery.outcome.ok, `the handler answered: ${JSON.stringify(delivery.outcome).slice(0, 300)}`)
  t.same(failuresOf(delivery.outcome), [], 'no batch item failures')

  const expected = await ctx.rootIds(works)
  t.equal(expected.filter((id) => typeof id === 'string').length, 230, 'every work has its root canonical ID in the database')
  const mapping = new Map((await ctx.db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  let consistent = 0
  for (const id of expected) {
    const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, id as string)
    if (indexed && embeddedIdProblems(indexed, mapping).length === 0) consistent++
  }
  t.equal(consistent, 230, 'every work is indexed under its canonical ID with every embedded ID the database holds')
  t.same(await ctx.db.orphans(), [], 'no canonical ID was registered without a mapping')

  const received = await drainBodies(downstream.url, 230)
  t.same([...received].sort(), [...(expected as string[])].sort(), 'the downstream queue holds each canonical ID once: the plain 8-character string')
  t.ok(received.every((body) => /^[a-z][a-z2-9]{7}$/.test(body)))
  t.same(await queueDepth(input.url), { visible: 0, inFlight: 0 }, 'every input message was deleted')
})

t.test('SQS event: the failures are exactly the messages not fully processed; duplicates share their outcome', async (t) => {
  const input = await createQueue(t, 'in')
  const downstream = await createQueue(t, 'down')
  const ctx = await container(t, 'sqs-failures', downstream)
  const good = makeWork({ value: 'bgood', nested: 3 })
  const other = makeWork({ value: 'bother', nested: 1 })
  const malformed = makeWork({ value: 'bmalformed', nested: 1 })
  ;(malformed.work.state as Record<string, unknown>).sourceIdentifier = { identifierType: { id: 'sierra-system-number' }, ontologyType: 'Work', value: '' }
  await ctx.seed([good, other, malformed])

  const messages: Array<[body: string, fails: boolean, what: string]> = [
    [good.id, false, 'a work'],
    [snsEnvelope(good.id), false, 'the same work in an envelope'],
    [`\t${good.id} `, false, 'and padded'],
    ['Work[sierra-system-number/bmissing]', true, 'a work not in the source index'],
    [snsEnvelope('Work[sierra-system-number/bmissing]'), true, 'the same missing work again'],
    [malformed.id, true, 'a work with a malformed sourceIdentifier'],
    ['', true, 'a blank body'],
    ['   \n', true, 'a whitespace body'],
    ['{"Type":"Notification","Message":', true, 'an envelope that does not parse'],
    [snsEnvelope(''), true, 'an envelope with a blank Message'],
    [snsEnvelope('  '), true, 'an envelope with a whitespace Message'],
    [snsEnvelope(42), true, 'an envelope whose Message is a number'],
    [snsEnvelope(null), true, 'an envelope whose Message is null'],
    [JSON.stringify({ Type: 'SubscriptionConfirmation', Message: good.id }), true, 'an SNS message that is not a Notification'],
    [JSON.stringify({ sourceIdentifier: good.id }), true, 'JSON that is not an envelope'],
    [other.id, false, 'another work'],
  ]
  // ElasticMQ (as SQS) refuses an empty body, so the blank message is sent as one space... and the
  // handler is also given a record whose body is truly empty, as a malformed producer could make.
  const sentBodies = messages.map(([body]) => (body === '' ? ' ' : body))
  const ids = await sendBodies(input.url, sentBodies)
  const received = await receive(input.url, messages.length)
  t.equal(received.length, messages.length)
  const event = sqsEvent(received, input)
  for (const record of event.Records) if (record.body === ' ') record.body = ''

  const outcome = await ctx.host.invoke(event, 60_000)
  t.ok(outcome.ok, JSON.stringify(outcome).slice(0, 300))
  const expectedFailures = ids.filter((_, i) => messages[i]?.[1])
  const inEventOrder = event.Records.map((r) => r.messageId).filter((id) => expectedFailures.includes(id))
  t.same(failuresOf(outcome).map((f) => f.itemIdentifier), inEventOrder, 'exactly the failed messageIds, in the order of the records')
  for (const [i, [, fails, what]] of messages.entries()) t.equal(expectedFailures.includes(ids[i] as string), fails, `${what}: ${fails ? 'failed' : 'succeeded'}`)

  const [goodId, otherId] = await ctx.rootIds([good, other])
  const notified = await drainBodies(downstream.url, 2)
  t.same(notified.sort(), [goodId, otherId].sort(), 'each minted work notified once, the duplicated one too')
  const rows = await ctx.db.sql<{ n: number }>('SELECT COUNT(*) AS n FROM canonical_ids')
  const keys = new Set([...workKeys(good.work).keys, ...workKeys(other.work).keys])
  t.equal(Number(rows[0]?.n), keys.size, 'the duplicated work was minted once: one canonical ID per distinct identifier')
})

t.test('SQS event: a budget that runs out fails every message of the chunks it did not finish, and answers', async (t) => {
  const input = await createQueue(t, 'in')
  const ctx = await container(t, 'sqs-budget', undefined, { LAMBDA_TIMEOUT_MARGIN_MS: '3000' })
  const works = Array.from({ length: 3 }, (_, i) => makeWork({ value: `bbudget${i}` }))
  await ctx.seed(works)
  const ids = await sendBodies(input.url, works.map((w) => w.id))
  const event = sqsEvent(await receive(input.url, 3), input)
  // 3001 ms left less the 3000 ms margin: 1 ms to mint in.
  const outcome = await ctx.host.invoke(event, 3001)
  t.ok(outcome.ok, 'answered, not thrown: the other messages of a batch would be deleted otherwise')
  t.same(new Set(failuresOf(outcome).map((f) => f.itemIdentifier)), new Set(ids), 'every message is a batch item failure')
})

t.test('events of other kinds throw UnsupportedEventError naming their source, and mint nothing', async (t) => {
  const input = await createQueue(t, 'in')
  const ctx = await container(t, 'sqs-unsupported', undefined)
  const work = makeWork({ value: 'bunsupported' })
  await ctx.seed([work])
  await sendBodies(input.url, [work.id])
  const sqsRecord = sqsEvent(await receive(input.url, 1), input).Records[0] as unknown as Record<string, unknown>
  const cases: Array<[string, unknown, RegExp]> = [
    ['S3', { Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { object: { key: work.id } } }] }, /Records from aws:s3\b/],
    ['SNS delivered directly', { Records: [{ EventSource: 'aws:sns', EventVersion: '1.0', Sns: { Type: 'Notification', Message: work.id } }] }, /Records from aws:sns\b/],
    ['Kinesis', { Records: [{ eventSource: 'aws:kinesis', kinesis: { data: Buffer.from(work.id).toString('base64') } }] }, /Records from aws:kinesis\b/],
    ['DynamoDB Streams', { Records: [{ eventSource: 'aws:dynamodb', eventName: 'INSERT', dynamodb: {} }] }, /Records from aws:dynamodb\b/],
    ['SQS mixed with S3', { Records: [sqsRecord, { eventSource: 'aws:s3' }] }, /Records from aws:sqs, aws:s3/],
    ['a record without a source', { Records: [sqsRecord, { body: work.id }] }, /a record without eventSource/],
    ['empty Records', { Records: [] }, /Records is empty/],
    ['Records not an array', { Records: { body: work.id } }, /Records is not an array/],
    ['an SQS record without messageId', { Records: [{ ...sqsRecord, messageId: undefined }] }, /record 0 has no messageId/],
    ['Kafka (MSK)', { eventSource: 'aws:kafka', records: { 'works-0': [] } }, /eventSource aws:kafka/],
    ['EventBridge', { version: '0', id: 'e1', 'detail-type': 'Object Created', source: 'aws.s3', detail: {} }, /EventBridge event from aws\.s3/],
  ]
  for (const [what, event, message] of cases) {
    const outcome = await ctx.host.invoke(event)
    t.match(outcome, { ok: false, error: { name: 'UnsupportedEventError', message } }, what)
  }
  // The container migrates its database in the background from start-up, and no mint waited for
  // it here: the identifiers table may not exist yet, which also means nothing was minted.
  const tables = await ctx.db.sql("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'identifiers'")
  const minted = tables.length === 0 ? [] : await ctx.db.sql('SELECT * FROM identifiers')
  t.same(minted, [], 'nothing was minted, not even the SQS record of the mixed batch')
})
