/**
 * SIGTERM while the container's queue consumer has a batch in flight: the real server
 * (src/server.ts) consumes a real ElasticMQ queue, its database answers through a proxy that
 * holds the first batch's look-up, and SIGTERM arrives while that batch is held.
 * The batch must finish (minted, notified downstream, its messages deleted), no further message
 * may be received, and the process must exit 0: every message is then either done or still
 * waiting on the queue, untouched.
 */
import net from 'node:net'
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { isolatedConfig, prepareStores } from '../helpers.js'
import { createQueue, drainBodies, localAwsEnv, queueDepth, sendBodies } from '../sqs/support.js'
import { lambdaEnv } from './lambda-host.js'
import { TcpProxy } from './proxy.js'
import { directDatabase, eventually, freePort, rowKey, startServerProcess, within, workKeys } from './support.js'

t.test('SIGTERM with an SQS batch in flight: the batch finishes and is deleted, nothing else is taken, exit 0', async (t) => {
  const config = isolatedConfig('queue-sigterm')
  const es = await prepareStores(t, config)
  // A long visibility timeout: a message received and not deleted would stay invisible, and show.
  const input = await createQueue(t, 'in', { VisibilityTimeout: '300' })
  const downstream = await createQueue(t, 'down')
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(() => proxy.close())
  const works = Array.from({ length: 25 }, (_, i) => makeWork({ value: `bqterm${i}`, nested: 2 }))
  await es.bulk({ refresh: true, operations: works.flatMap(({ id, work }) => [{ index: { _index: config.es_source_index, _id: id } }, work]) })
  const port = await freePort()
  // The messages wait on the queue before the server starts, so its first receive takes ten; that
  // batch is held at its look-up (the first statement a mint sends to the identifiers table).
  await sendBodies(input.url, works.map((w) => w.id))
  const held = proxy.holdNext((c) => /^select .* from `identifiers`/is.test(c.sql ?? ''))

  const server = startServerProcess(t, lambdaEnv(config, {
    ...localAwsEnv,
    db_port: String(proxy.port),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    queue_url: input.url,
    use_downstream: 'sqs',
    downstream_queue_url: downstream.url,
  }))
  const { child, exited } = server

  const connection = await within(held, 60_000, 'a batch reaching the database').catch((error: Error) => {
    t.comment(server.output().slice(-3000))
    throw error
  })
  const inFlight = await queueDepth(input.url)
  t.equal(inFlight.inFlight, 10, 'a batch of 10 messages is in flight, held at its look-up')
  child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(child.exitCode, null, 'the process waits for the batch')
  connection.release()

  const exit = await within(exited, 30_000, 'exit after SIGTERM')
  t.same(exit, { code: 0, signal: null }, 'the process exits 0')
  t.match(server.output(), /"msg":"stopped consuming the input queue"/, 'the consumer stopped before the process exited')

  const depth = await queueDepth(input.url)
  t.equal(depth.inFlight, 0, 'no message was left received and undeleted')
  const processed = works.length - depth.visible
  t.equal(processed, inFlight.inFlight, 'exactly the batch in flight was taken off the queue: nothing was received after SIGTERM')
  const db = await directDatabase(t, config.IDENTIFIERS_DATABASE)
  const mapping = new Map((await db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  const minted = works.filter((w) => mapping.has(workKeys(w.work).root))
  t.equal(minted.length, processed, 'the works of the deleted messages, and only those, were minted')
  const notified = await drainBodies(downstream.url, processed)
  t.same(notified.sort(), minted.map((w) => mapping.get(workKeys(w.work).root)).sort(), 'and notified downstream before the process exited')
})

t.test('SIGTERM while a batch spends its whole budget (a silent downstream queue): the batch fails, its message stays, exit 0', async (t) => {
  const config = isolatedConfig('queue-sigterm-budget')
  const es = await prepareStores(t, config)
  const input = await createQueue(t, 'in', { VisibilityTimeout: '300' })
  // A downstream that accepts connections and never answers: the batch's notifications take all of
  // its budget (MINT_TIMEOUT_MS, the default 25 s), longer than the server's grace once was.
  const sockets = new Set<net.Socket>()
  const silent = net.createServer((socket) => sockets.add(socket))
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    silent.close()
  })
  const silentPort = (silent.address() as net.AddressInfo).port
  const work = makeWork({ value: 'bqbudget', nested: 1 })
  await es.bulk({ refresh: true, operations: [{ index: { _index: config.es_source_index, _id: work.id } }, work.work] })
  await sendBodies(input.url, [work.id])

  const server = startServerProcess(t, lambdaEnv(config, {
    ...localAwsEnv,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    queue_url: input.url,
    use_downstream: 'sqs',
    downstream_queue_url: `http://127.0.0.1:${silentPort}/000000000000/silent`,
  }))
  const minted = await eventually(async () => server.output().includes('"msg":"sqs chunk minted"'), 60_000, 50)
  if (!minted) t.comment(server.output().slice(-3000))
  t.ok(minted, 'the batch is minted and now waits on its notifications')
  server.child.kill('SIGTERM')

  const exit = await within(server.exited, 60_000, 'exit after SIGTERM')
  t.same(exit, { code: 0, signal: null }, 'the process exits 0: the grace outlasts the batch and its answer')
  t.match(server.output(), /"msg":"stopped consuming the input queue"/, 'the consumer stopped before the process exited')
  const depth = await queueDepth(input.url)
  t.same(depth, { visible: 0, inFlight: 1 }, 'its message was not deleted: it comes back after the visibility timeout, to be notified then')
})
