/**
 * The reprocess front door in Lambda: src/lambda.ts in a child process (one "container") against
 * the real MariaDB and Elasticsearch, invoked with reprocess events as Step Functions sends them.
 * What is minted is read back from the identifiers table.
 */
import t from 'tap'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { makeWork } from '../../fixtures/works.js'
import { eventKind } from '../../src/front-doors/event-kind.js'
import { adminConnection, isolatedConfig, prepareStores } from '../helpers.js'
import { lambdaEnv, startLambdaHost, type LambdaHost } from '../reliability/lambda-host.js'

const config = isolatedConfig('reprocess-front-door')
const work = (value: string, indexedAt: string) => {
  const w = makeWork({ value })
  return { id: w.id, value, work: { ...w.work, indexed_at: indexedAt } }
}
const works = Array.from({ length: 450 }, (_, i) => work(`b${String(i).padStart(3, '0')}`, '2026-05-02T10:05:00Z'))

let host: LambdaHost
t.before(async () => {
  const es = await prepareStores(t, config)
  await seedSourceWorks(es, config.es_source_index, works)
  host = await startLambdaHost(lambdaEnv(config))
  t.teardown(() => host.close())
})

async function mintedCount(): Promise<number> {
  const sql = await adminConnection()
  try {
    const [rows] = await sql.query(`SELECT COUNT(*) AS n FROM \`${config.IDENTIFIERS_DATABASE}\`.identifiers WHERE OntologyType = 'Work'`)
    return Number((rows as Array<{ n: number }>)[0]?.n)
  } finally {
    await sql.end()
  }
}

t.test('eventKind: an object with window or full and no sourceIdentifiers is a reprocess request', async (t) => {
  t.same(eventKind({ window: {} }), { kind: 'reprocess' })
  t.same(eventKind({ full: true, jobId: 'j' }), { kind: 'reprocess' })
  t.same(eventKind({ full: 'yes' }), { kind: 'reprocess' }, 'recognised, then refused as invalid input')
  t.same(eventKind({ sourceIdentifiers: ['b1'], window: {} }), { kind: 'direct' }, 'a mint request stays a mint request')
  t.same(eventKind({ jobId: 'j' }), { kind: 'direct' })
  t.same(eventKind({ window: {}, httpMethod: 'POST', requestContext: {} }), { kind: 'http' })
})

t.test('a reprocess event is answered with the reprocess answer, within the invocation\'s remaining time', async (t) => {
  // 6 s left, less the 3 s margin: a 3 s budget, and the answer well before Lambda would stop it.
  const started = performance.now()
  const first = await host.invoke({ full: true, jobId: 'lambda-full' }, 6000)
  t.ok(first.ok, 'answered, not thrown')
  t.ok(performance.now() - started < 6000, 'within the invocation\'s remaining time')
  const answer = (first as { result: Record<string, unknown> }).result
  t.equal(answer.jobId, 'lambda-full')
  t.equal(answer.full, true)
  t.equal(answer.processed, await mintedCount(), 'what it says it processed is what the table holds')
  let processed = answer.processed as number
  let cursor = answer.cursor as string | undefined
  let calls = 1
  while (cursor) {
    const next = await host.invoke({ full: true, cursor }, 6000)
    t.ok(next.ok)
    const body = (next as { result: Record<string, unknown> }).result
    t.equal(body.jobId, 'lambda-full', "the cursor's jobId")
    processed += body.processed as number
    cursor = body.cursor as string | undefined
    calls++
  }
  t.equal(processed, 450)
  t.equal(await mintedCount(), 450)
  t.comment(`${calls} calls of a 3 s budget`)
})

t.test('invalid input is answered, not thrown, with no cursor; an expired point in time is thrown by name', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ window: { startTime: 'soon' }, jobId: 'bad-1' }, /window.startTime/],
    [{ full: 'yes' }, /full/],
    [{ window: {}, full: true }, /either window or full/],
    [{ full: true, cursor: 'rc1.not.a-cursor' }, /cut short or altered|not a reprocess cursor/],
    [{ full: true, slice: { id: 0, max: 2 } }, /open the job/],
  ]
  for (const [event, reason] of cases) {
    const outcome = await host.invoke(event)
    t.ok(outcome.ok, JSON.stringify(event))
    const answer = (outcome as { result: Record<string, unknown> }).result
    t.same({ ...answer, failures: undefined }, {
      ...((event as { jobId?: string }).jobId ? { jobId: (event as { jobId: string }).jobId } : {}),
      processed: 0,
      successCount: 0,
      failureCount: 1,
      failures: undefined,
      failuresTruncated: false,
    })
    t.match(answer.failures, [{ sourceIdentifier: '', error: /^Invalid input: / }])
    t.match((answer.failures as Array<{ error: string }>)[0]?.error, reason)
  }

  const opened = await host.invoke({ full: true, slices: 2 })
  const cursor = (opened as { result: { cursor: string } }).result.cursor
  const es = (await import('../helpers.js')).esClient()
  t.teardown(() => es.close())
  await es.closePointInTime({ id: JSON.parse(Buffer.from(cursor.split('.')[1] as string, 'base64url').toString('utf8')).pit })
  const expired = await host.invoke({ full: true, slice: { id: 0, max: 2 }, cursor })
  t.same(expired.ok, false)
  t.equal((expired as { error: { name: string } }).error.name, 'PointInTimeExpiredError')
  t.match((expired as { error: { message: string } }).error.message, /has expired or was closed/)
})
