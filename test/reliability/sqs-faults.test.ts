/**
 * The SQS interface under faults, through the loopback proxy: Elasticsearch or the database cut in
 * the middle of a batch (after its first chunk of 100 is minted), the downstream queue gone. The
 * batch answers exactly the messages that were not fully processed; after redelivery (what Lambda's
 * event source mapping does with them) every work is minted once, indexed, and notified at least
 * once, and nothing is lost. Expected IDs come from the identifiers table, keyed by the oracle's walk.
 */
import t, { type Test } from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { isolatedConfig, prepareStores } from '../helpers.js'
import { createQueue, deliverOnce, drainBodies, localAwsEnv, queueDepth, sendBodies, type TestQueue } from '../sqs/support.js'
import { lambdaEnv, startLambdaHost } from './lambda-host.js'
import { TcpProxy, type MysqlCommand } from './proxy.js'
import { directDatabase, embeddedIdProblems, indexedDocument, rowKey, workKeys } from './support.js'

const WORKS = 250

async function faultyContainer(t: Test, name: string, downstream: TestQueue) {
  const config = isolatedConfig(name)
  const es = await prepareStores(t, config)
  const esProxy = await TcpProxy.start({ targetPort: 9200 })
  const dbProxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(async () => {
    dbProxy.restore()
    esProxy.restore()
    await dbProxy.close()
    await esProxy.close()
  })
  const host = await startLambdaHost(
    lambdaEnv(config, {
      ...localAwsEnv,
      db_port: String(dbProxy.port),
      es_upstream_port: String(esProxy.port),
      es_downstream_port: String(esProxy.port),
      use_downstream: 'sqs',
      downstream_queue_url: downstream.url,
    }),
  )
  t.teardown(() => host.close())
  const works = Array.from({ length: WORKS }, (_, i) => makeWork({ value: `b${name}${i}`, nested: 2, sharedConcepts: [['Concept', 'lc-subjects', `sh-${name}${i % 4}`, 'C']] }))
  await seedSourceWorks(es, config.es_source_index, works)
  const db = await directDatabase(t, config.IDENTIFIERS_DATABASE)
  return { config, es, esProxy, dbProxy, host, works, db }
}

/**
 * Sends one message per work, delivers them all in one event with `fault` applied when the
 * second chunk reaches `point`, and checks the first answer; then restores, redelivers the
 * failures, and checks that everything is minted once, indexed and notified.
 */
async function cutMidBatch(t: Test, name: string, point: (command: MysqlCommand) => boolean, kind: 'request' | 'reply', fault: (ctx: Awaited<ReturnType<typeof faultyContainer>>) => void, restore: (ctx: Awaited<ReturnType<typeof faultyContainer>>) => void) {
  const input = await createQueue(t, 'in')
  const downstream = await createQueue(t, 'down')
  const ctx = await faultyContainer(t, name, downstream)
  await sendBodies(input.url, ctx.works.map((w) => w.id))

  let seen = 0
  const held = ctx.dbProxy.holdNext((command) => point(command) && ++seen === 2, kind)
  const first = deliverOnce(input, (event) => ctx.host.invoke(event, 120_000))
  const connection = await held
  fault(ctx)
  connection.release()
  const delivery = await first
  t.ok(delivery.outcome.ok, `the handler answered rather than threw: ${JSON.stringify(delivery.outcome).slice(0, 200)}`)
  t.equal(delivery.messages.length, WORKS)

  // The batch is minted in the order of its records: chunk 1 is the first 100 works the event names.
  const bodies = new Map(delivery.messages.map((m) => [m.MessageId as string, m.Body as string]))
  const firstChunk = new Set(delivery.messages.slice(0, 100).map((m) => m.Body as string))
  const expectedFailures = delivery.messages.filter((m) => !firstChunk.has(m.Body as string)).map((m) => m.MessageId as string)
  t.same(delivery.failedMessageIds, expectedFailures, 'the failures are exactly the messages of the chunks the fault reached (150 of 250)')
  const notifiedFirst = await drainBodies(downstream.url, 100)
  const afterFirst = new Map((await ctx.db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  const byBody = new Map(ctx.works.map((w) => [w.id, w]))
  const firstIds = [...firstChunk].map((id) => afterFirst.get(workKeys(byBody.get(id)?.work).root))
  t.same([...notifiedFirst].sort(), [...firstIds].sort(), 'the first chunk was notified downstream, and nothing else')
  t.ok(delivery.failedMessageIds.every((id) => !firstChunk.has(bodies.get(id) as string)))

  restore(ctx)
  const second = await deliverOnce(input, (event) => ctx.host.invoke(event, 120_000))
  t.equal(second.messages.length, expectedFailures.length, 'redelivery brings back exactly the failed messages')
  t.same(second.failedMessageIds, [], 'and they all succeed')
  t.same(await queueDepth(input.url), { visible: 0, inFlight: 0 }, 'the input queue is empty: nothing left, nothing lost')

  const mapping = new Map((await ctx.db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  for (const [key, id] of afterFirst) if (mapping.get(key) !== id) t.fail(`${key} was ${id} after the fault and ${mapping.get(key)} after redelivery`)
  t.pass('every canonical ID stored before the fault is the one used after it')
  t.same(await ctx.db.orphans(), [], 'no canonical ID minted twice or left without a mapping')
  const rootIds = ctx.works.map((w) => mapping.get(workKeys(w.work).root) as string)
  t.equal(new Set(rootIds).size, WORKS, 'each work has its own canonical ID')
  let consistent = 0
  for (const id of rootIds) {
    const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, id)
    if (indexed && embeddedIdProblems(indexed, mapping).length === 0) consistent++
  }
  t.equal(consistent, WORKS, 'every work is indexed with the IDs the database holds')
  const notified = new Set([...notifiedFirst, ...(await drainBodies(downstream.url, expectedFailures.length))])
  t.same([...notified].sort(), [...rootIds].sort(), 'every canonical ID was notified at least once, and no other')
}

t.test('Elasticsearch cut after the first chunk of an SQS batch: its other chunks fail; redelivery completes them', async (t) => {
  // Held on the second chunk's COMMIT reply: its IDs are stored, and Elasticsearch goes before its bulk.
  await cutMidBatch(
    t,
    'sqs-es-cut',
    (c) => c.sql === 'COMMIT',
    'reply',
    (ctx) => ctx.esProxy.cut(),
    (ctx) => ctx.esProxy.restore(),
  )
})

t.test('the database cut after the first chunk of an SQS batch: its other chunks fail; redelivery completes them', async (t) => {
  // Held on the second chunk's look-up: the database goes before it answers.
  await cutMidBatch(
    t,
    'sqs-db-cut',
    (c) => /^select .* from `identifiers`/is.test(c.sql ?? ''),
    'request',
    (ctx) => ctx.dbProxy.cut(),
    (ctx) => ctx.dbProxy.restore(),
  )
})
