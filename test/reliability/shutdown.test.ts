/**
 * SIGTERM with requests in flight: the real server (src/server.ts) runs as a child process; three
 * slow 100-work requests are sent (the database answers through a proxy that delays every reply),
 * SIGTERM arrives while all three are being served: each must complete with 200, new connections
 * are refused, and the process exits 0 once they are done.
 */
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { isolatedConfig, prepareStores } from '../helpers.js'
import { lambdaEnv } from './lambda-host.js'
import { TcpProxy } from './proxy.js'
import { directDatabase, eventually, freePort, startServerProcess, within } from './support.js'

const BATCHES = 3
const BATCH_SIZE = 100

t.test('SIGTERM lets requests in flight complete with 200, then the process exits 0', async (t) => {
  const config = isolatedConfig('sigterm')
  const es = await prepareStores(t, config)
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(() => proxy.close())
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`

  const batches = Array.from({ length: BATCHES }, (_, b) =>
    Array.from({ length: BATCH_SIZE }, (_, i) => makeWork({ value: `bterm${b}x${i}`, nested: 2, sharedConcepts: [['Person', 'lc-names', `n-term${i % 7}`, 'P']] })),
  )
  await es.bulk({ refresh: true, operations: batches.flat().flatMap(({ id, work }) => [{ index: { _index: config.es_source_index, _id: id } }, work]) })

  const server = startServerProcess(t, lambdaEnv(config, {
    db_port: String(proxy.port),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
  }))
  const { child, exited } = server

  const up = await eventually(async () => (await fetch(`${base}/health`)).status === 200, 60_000, 200)
  t.ok(up, 'the server starts and reports healthy')
  if (!up) {
    t.comment(server.output().slice(-3000))
    return
  }

  // From now on every database reply takes 300 ms: each request spends seconds in its transaction.
  // A request is known to be in flight once its look-up reaches the database.
  proxy.setReplyDelay(300)
  let lookups = 0
  proxy.onCommand((c) => {
    if (/^select .* from `identifiers`/is.test(c.sql ?? '')) lookups++
  })
  const started = Date.now()
  const requests = batches.map((works, b) =>
    fetch(`${base}/mint`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': `batch-${b}` },
      body: JSON.stringify({ sourceIdentifiers: works.map((w) => w.id), jobId: `batch-${b}` }),
    }).then(async (response) => ({ status: response.status, body: (await response.json()) as { successes: string[]; failures: unknown[]; jobId: string }, at: Date.now() })),
  )
  t.ok(await eventually(async () => lookups >= BATCHES, 10_000, 10), 'all three requests are being served (their look-ups reached the database)')
  const signalled = Date.now()
  t.ok(child.kill('SIGTERM'), `SIGTERM sent ${signalled - started} ms after the requests`)

  // Once closing, the server takes no new connection.
  await new Promise((resolve) => setTimeout(resolve, 300))
  const late = await fetch(`${base}/health`).then(
    (r) => `answered ${r.status}`,
    (e: Error & { cause?: { code?: string } }) => `refused (${e.cause?.code ?? e.message})`,
  )
  t.notMatch(late, /answered 200/, `a new request after SIGTERM is not served normally: ${late}`)

  const answers = await within(Promise.all(requests), 60_000, 'the requests in flight')
  for (const [b, answer] of answers.entries()) {
    t.equal(answer.status, 200, `batch ${b} completed with 200 after SIGTERM (${answer.at - signalled} ms later)`)
    t.equal(answer.body.successes?.length, BATCH_SIZE, `batch ${b}: all ${BATCH_SIZE} works succeeded`)
    t.equal(answer.body.jobId, `batch-${b}`)
  }
  t.ok(answers.every((a) => a.at > signalled), 'every request was still in flight when SIGTERM arrived')
  const exit = await within(exited, 30_000, 'the process exiting')
  t.same(exit, { code: 0, signal: null }, 'the process exits 0 once the requests are done')
  if (exit.code !== 0) t.comment(`the server's last output:\n${server.output().split('\n').filter((l) => !l.includes('CloudWatchMetrics')).slice(-12).join('\n')}`)
  t.match(server.output(), /closing/, 'it logged that it was closing')

  const db = await directDatabase(t, config.IDENTIFIERS_DATABASE)
  const [count] = await db.sql<{ n: number }>("SELECT COUNT(*) AS n FROM identifiers WHERE OntologyType = 'Work'")
  t.equal(Number(count?.n), BATCHES * BATCH_SIZE, 'every work of every batch was minted')
  await es.indices.refresh({ index: config.es_identified_index })
  t.equal((await es.count({ index: config.es_identified_index })).count, BATCHES * BATCH_SIZE, 'and indexed')
})
