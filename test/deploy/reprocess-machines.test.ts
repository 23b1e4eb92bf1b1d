// The reprocess state machines of infra/state-machines, run in an ASL interpreter
// (aws-local-stepfunctions) with their Task states invoking the real Lambda handler (src/lambda.ts in
// a child process, one per "container") against the real MariaDB and Elasticsearch. What each run
// asserts comes from the works seeded here (their indexed_at written as literals) and from SQL
// counts of the identifiers table.
import t from 'tap'
import { ExecutionError } from 'aws-local-stepfunctions'
import type { Client } from '@elastic/elasticsearch'
import { seedSourceWorks } from '../../fixtures/indices.js'
import { makeWork } from '../../fixtures/works.js'
import { adminConnection, isolatedConfig, prepareStores } from '../helpers.js'
import { lambdaEnv, startLambdaHost, type LambdaHost } from '../reliability/lambda-host.js'
import { TcpProxy } from '../reliability/proxy.js'
import { runMachine, viaLambda, type Json } from './asl.js'

const config = isolatedConfig('reprocess-machines')
const work = (value: string, indexedAt: string, nested = 0) => {
  const w = makeWork({ value, nested })
  return { id: w.id, value, work: { ...w.work, indexed_at: indexedAt } as Record<string, unknown> }
}

// The scheduled run at 10:20 covers [10:00, 10:15).
const SCHEDULED = '2026-05-02T10:20:00Z'
const windowWorks = [
  work('w-before', '2026-05-02T09:59:59.999Z'),
  work('w-first', '2026-05-02T10:00:00.000Z'),
  work('w-last', '2026-05-02T10:14:59.999Z'),
  work('w-end', '2026-05-02T10:15:00.000Z'),
  work('w-scheduled', '2026-05-02T10:20:00.000Z'),
]
// A work that fails (its root identifier has no value), and one that does not, an hour apart from the rest.
const broken = work('w-broken', '2026-05-03T08:00:00Z')
;(broken.work.state as Record<string, unknown>).sourceIdentifier = { ontologyType: 'Work', identifierType: { id: 'sierra-system-number' } }
const laterWorks = [broken, work('w-good', '2026-05-03T08:00:01Z')]
// Enough works that a call with a budget of BUDGET_MS cannot mint them all: the full reindex loops on its cursor.
const bulk = Array.from({ length: 3000 }, (_, i) => work(`f${String(i).padStart(5, '0')}`, '2026-01-01T00:00:00Z', 1))
const everyWork = [...windowWorks, ...laterWorks, ...bulk]
/** What a full reindex mints: every work but the broken one. */
const everyValue = everyWork.filter((w) => w !== broken).map((w) => w.value).sort()
/** Each invocation's budget in the full reindex: its remaining time, the margin being 0 in these containers. */
const BUDGET_MS = 300

let es: Client
let container: LambdaHost
t.before(async () => {
  es = await prepareStores(t, config)
  await seedSourceWorks(es, config.es_source_index, [...windowWorks, ...laterWorks])
  for (let i = 0; i < bulk.length; i += 1000) await seedSourceWorks(es, config.es_source_index, bulk.slice(i, i + 1000))
  container = await startLambdaHost(lambdaEnv(config, { LAMBDA_TIMEOUT_MARGIN_MS: '0' }))
  t.teardown(() => container.close())
})

/** Work values minted so far, straight from the identifiers table. */
async function mintedValues(): Promise<string[]> {
  const sql = await adminConnection()
  try {
    const [rows] = await sql.query(`SELECT CAST(SourceId AS CHAR) AS v FROM \`${config.IDENTIFIERS_DATABASE}\`.identifiers WHERE OntologyType = 'Work' ORDER BY v`)
    return (rows as Array<{ v: string }>).map((r) => r.v)
  } finally {
    await sql.end()
  }
}

/** Empties the identifiers table (when a container has made it), so the next run's mints are its own. */
async function forgetMinted(): Promise<void> {
  const sql = await adminConnection()
  try {
    const [tables] = await sql.query('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ?', [config.IDENTIFIERS_DATABASE])
    if (Number((tables as Array<{ n: number }>)[0]?.n) === 0) return
    await sql.query(`DELETE FROM \`${config.IDENTIFIERS_DATABASE}\`.identifiers`)
    await sql.query(`DELETE FROM \`${config.IDENTIFIERS_DATABASE}\`.canonical_ids`)
  } finally {
    await sql.end()
  }
}

/** The point in time a cursor reads: its payload's `pit` (base64url JSON between the two dots). */
const pointInTimeOf = (cursor: string) => JSON.parse(Buffer.from(cursor.split('.')[1] as string, 'base64url').toString('utf8')).pit as string

async function failure(run: Promise<Json>): Promise<Error | undefined> {
  return run.then(
    () => undefined,
    (e: unknown) => (e instanceof ExecutionError ? (e.cause as Error) : (e as Error)),
  )
}

t.test('reprocess-window: a scheduled run mints [scheduled time - 20 min, scheduled time - 5 min)', async (t) => {
  const calls: Array<{ input: Json; error?: string }> = []
  const result = await runMachine('reprocess-window.asl.json', { scheduledTime: SCHEDULED }, () => viaLambda(container, calls), 'scheduled-1020')
  t.same(result, {
    jobId: 'scheduled-1020',
    window: { startTime: '2026-05-02T10:00:00.000Z', endTime: '2026-05-02T10:15:00.000Z' },
    processed: 2,
    successCount: 2,
    failureCount: 0,
    calls: 1,
    outcome: 'Every work in the window minted',
  })
  t.same(calls[0]?.input, { window: { endTime: '2026-05-02T10:20:00+00:05' }, jobId: 'scheduled-1020' }, 'the window end is the scheduled time less 5 minutes (+00:05)')
  t.same(await mintedValues(), ['w-first', 'w-last'])
})

t.test('reprocess-window: a window given by hand, with failing works, and a Lambda timeout retried', async (t) => {
  await forgetMinted()
  const calls: Array<{ input: Json; error?: string }> = []
  const invoke = viaLambda(container, calls)
  let attempts = 0
  const result = await runMachine('reprocess-window.asl.json', { window: { startTime: '2026-05-03T08:00:00Z', endTime: '2026-05-03T09:00:00Z' } }, () => async (input) => {
    // The first attempt times out as Lambda reports it; the Retry sends the same request again.
    if (++attempts === 1) throw Object.assign(new Error('Task timed out after 30.00 seconds'), { name: 'Sandbox.Timedout' })
    return invoke(input)
  })
  t.equal(attempts, 2)
  t.same({ ...result, jobId: undefined }, {
    jobId: undefined,
    window: { startTime: '2026-05-03T08:00:00.000Z', endTime: '2026-05-03T09:00:00.000Z' },
    processed: 2,
    successCount: 1,
    failureCount: 1,
    calls: 1,
    outcome: 'Some works failed to mint: each failure is logged with the jobId',
  })
  t.same(await mintedValues(), ['w-good'])
})

t.test('reprocess-window: invalid input fails the execution with the service\'s reason', async (t) => {
  const refused = await failure(runMachine('reprocess-window.asl.json', { window: { startTime: '2026-05-03T09:00:00Z', endTime: '2026-05-03T08:00:00Z' } }, () => viaLambda(container)))
  t.equal(refused?.name, 'InvalidInput')
  t.match(refused?.message, /Invalid input: window.startTime .* must be before window.endTime/)
  const nothing = await failure(runMachine('reprocess-window.asl.json', {}, () => viaLambda(container)))
  t.equal(nothing?.name, 'InvalidInput')
})

t.test('reprocess-full: slices in a Map, each looping on its cursor, mint every work of the index exactly once', async (t) => {
  await forgetMinted()
  const calls: Array<{ input: Json; error?: string }> = []
  const result = await runMachine('reprocess-full.asl.json', { slices: 3, maxConcurrency: 2 }, () => async (input) => {
    const outcome = await container.invoke(input, BUDGET_MS)
    calls.push({ input, ...(outcome.ok ? {} : { error: outcome.error.name }) })
    if (outcome.ok) return outcome.result
    throw Object.assign(new Error(outcome.error.message), { name: outcome.error.name })
  }, 'reindex-1')
  t.equal(result.outcome, 'Some works failed to mint: each failure is logged with the jobId', 'w-broken')
  t.same(result.sliceResults.map((r: Json) => r.failureCount).sort(), [0, 0, 1])
  t.equal(result.jobId, 'reindex-1')
  t.same(result.sliceResults.map((r: Json) => r.slice), [{ id: 0, max: 3 }, { id: 1, max: 3 }, { id: 2, max: 3 }])
  const processed = result.sliceResults.reduce((n: number, r: Json) => n + r.processed, 0)
  t.equal(processed, everyWork.length, 'the slices processed as many works as the index holds')
  t.same(await mintedValues(), everyValue, 'and they are every work of the index: none lost, so none doubled')
  const sliceCalls = calls.filter((c) => c.input.slice)
  t.ok(sliceCalls.length > 3, `the slices looped on their cursors: ${sliceCalls.length} calls for 3 slices`)
  t.equal(calls[0]?.input.slices, 3, 'the job is opened first')
  t.ok(sliceCalls.every((c) => typeof c.input.cursor === 'string' && c.input.full === true && c.input.jobId === 'reindex-1'))
})

t.test('reprocess-full: a database cut is retried on DependencyUnavailableError until it comes back', async (t) => {
  await forgetMinted()
  const proxy = await TcpProxy.start({ targetPort: 3306, mysql: true })
  t.teardown(() => proxy.close())
  const host = await startLambdaHost(lambdaEnv(config, { db_port: String(proxy.port) }))
  t.teardown(() => host.close())
  proxy.cut()
  const calls: Array<{ input: Json; error?: string }> = []
  const invoke = viaLambda(host, calls)
  const result = await runMachine('reprocess-full.asl.json', { slices: 1 }, () => async (input) => {
    try {
      return await invoke(input)
    } finally {
      if (calls.filter((c) => c.error).length === 2) proxy.restore()
    }
  })
  t.same(calls.map((c) => c.error).slice(0, 4), [undefined, 'DependencyUnavailableError', 'DependencyUnavailableError', undefined], 'the job opens (Elasticsearch only), the slice fails twice and is retried')
  t.equal(result.sliceResults[0].processed, everyWork.length)
  t.same(await mintedValues(), everyValue)
})

t.test('reprocess-full: an expired point in time fails the execution by name, without retrying or starting again', async (t) => {
  await forgetMinted()
  const calls: Array<{ input: Json; error?: string }> = []
  const invoke = viaLambda(container, calls)
  const run = runMachine('reprocess-full.asl.json', { slices: 2, maxConcurrency: 1 }, () => async (input) => {
    // Before the first slice starts, the job's point in time goes away.
    if (input.slice && calls.length === 1) await es.closePointInTime({ id: pointInTimeOf(input.cursor) })
    return invoke(input)
  })
  const error = await failure(run)
  t.equal(error?.name, 'PointInTimeExpiredError')
  t.match(error?.message, /point in time .* has expired or was closed/)
  t.same(calls.map((c) => c.error), [undefined, 'PointInTimeExpiredError'], 'opened, then one attempt of the slice: not retried')
  t.same(await mintedValues(), [], 'nothing was minted from the beginning again')
})
