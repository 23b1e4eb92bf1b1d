// POST /reprocess and the reprocess service against the real MariaDB and Elasticsearch. What each
// test expects comes from the works it seeded (their indexed_at, written here as literals) and
// from SQL counts of the identifiers table, never from the service's own answer alone.
import t from 'tap'
import { Writable } from 'node:stream'
import { makeWork } from '../../fixtures/works.js'
import { indexConfig } from '../../fixtures/indices.js'
import { Deadline } from '../../src/services/deadline.js'
import { createIdentifierStore } from '../../src/services/identifier-store/store.js'
import { createMinter, type Minter } from '../../src/services/minter.js'
import { createReprocessor, MAX_LISTED_FAILURES, type ReprocessAnswer } from '../../src/services/reprocess.js'
import { createWorkStore } from '../../src/services/work-store.js'
import { setup, type TestContext } from '../helpers.js'

type Answer = ReprocessAnswer

/** A work of the source index, ingested at `indexedAt`: its only identifier is Work/sierra-system-number/<value>. */
const work = (value: string, indexedAt: string) => {
  const w = makeWork({ value })
  return { id: w.id, value, work: { ...w.work, indexed_at: indexedAt } as Record<string, unknown> }
}

/** The values of the works minted so far, straight from the identifiers table. */
async function mintedValues(ctx: TestContext): Promise<string[]> {
  const rows = await ctx.sql<{ v: string }>("SELECT CAST(SourceId AS CHAR) AS v FROM identifiers WHERE OntologyType = 'Work' ORDER BY v")
  return rows.map((r) => r.v)
}

async function post(ctx: TestContext, payload: unknown, headers: Record<string, string> = {}) {
  const response = await ctx.app.inject({ method: 'POST', url: '/reprocess', payload: payload as object, headers })
  return { status: response.statusCode, body: response.json() as Answer & { message?: string; error?: string }, bytes: response.rawPayload.length }
}

/** Calls POST /reprocess with the request, then with each answer's cursor until an answer has none. */
async function untilDone(ctx: TestContext, request: Record<string, unknown>) {
  const answers: Answer[] = []
  let cursor: string | undefined
  do {
    const { status, body } = await post(ctx, { ...request, ...(cursor ? { cursor } : {}) })
    if (status !== 200) throw new Error(`POST /reprocess answered ${status}: ${JSON.stringify(body)}`)
    answers.push(body)
    cursor = body.cursor
  } while (cursor)
  return answers
}

/** The service over the app's own stores (as app.ts composes it), for what HTTP cannot steer: page size, a stop signal, a minter that is slow. */
function serviceOf(ctx: TestContext, options: { pageSize?: number; minter?: (real: Minter) => Minter } = {}) {
  const works = createWorkStore({ source: ctx.app.elasticsearch.source, target: ctx.app.elasticsearch.target, sourceIndex: ctx.config.es_source_index, targetIndex: ctx.config.es_identified_index })
  const identifiers = createIdentifierStore({ primary: ctx.app.database.primaryPool, replica: ctx.app.database.replicaPool })
  const real = createMinter({ identifiers, works })
  return createReprocessor({ works, minter: options.minter ? options.minter(real) : real, chunkBudgetMs: 25_000, ...(options.pageSize ? { pageSize: options.pageSize } : {}) })
}

t.test('POST /reprocess with a window mints the works indexed from startTime (included) to endTime (excluded)', async (t) => {
  const ctx = await setup(t, 'reprocess-edges')
  await ctx.seed([
    work('b-before', '2026-05-02T09:59:59.999Z'),
    work('b-start', '2026-05-02T10:00:00.000Z'),
    work('b-inside', '2026-05-02T10:07:30.000Z'),
    work('b-last', '2026-05-02T10:14:59.999Z'),
    work('b-end', '2026-05-02T10:15:00.000Z'),
    work('b-after', '2026-05-02T10:15:00.001Z'),
    // The same instants written with an offset: indexed_at is a date, compared as an instant.
    work('b-offset-start', '2026-05-02T11:00:00.000+01:00'),
    work('b-offset-end', '2026-05-02T11:15:00+01:00'),
  ])
  const { status, body } = await post(ctx, { window: { startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T10:15:00Z' }, jobId: 'edges' })
  t.equal(status, 200)
  t.same(body, {
    jobId: 'edges',
    window: { startTime: '2026-05-02T10:00:00.000Z', endTime: '2026-05-02T10:15:00.000Z' },
    processed: 4,
    successCount: 4,
    failureCount: 0,
    failures: [],
    failuresTruncated: false,
  })
  t.notOk('cursor' in body, 'finished: no cursor')
  t.same(await mintedValues(ctx), ['b-inside', 'b-last', 'b-offset-start', 'b-start'])

  // A window given in another zone is the same instants.
  const again = await post(ctx, { window: { startTime: '2026-05-02T12:00:00+02:00', endTime: '2026-05-02T12:00:00.001+02:00' } })
  t.equal(again.body.processed, 2, 'the two works at 10:00:00.000Z')
  t.same(again.body.window, { startTime: '2026-05-02T10:00:00.000Z', endTime: '2026-05-02T10:00:00.001Z' })
})

t.test('POST /reprocess: startTime defaults to endTime less 15 minutes, endTime to now', async (t) => {
  const ctx = await setup(t, 'reprocess-defaults')
  const now = Date.now()
  const iso = (ms: number) => new Date(ms).toISOString()
  await ctx.seed([
    work('b-old', '2026-05-02T09:44:59.999Z'),
    work('b-first', '2026-05-02T09:45:00.000Z'),
    work('b-recent', iso(now - 60_000)),
    work('b-stale', iso(now - 16 * 60_000)),
    work('b-future', iso(now + 10 * 60_000)),
  ])
  const given = await post(ctx, { window: { endTime: '2026-05-02T10:00:00Z' } })
  t.same(given.body.window, { startTime: '2026-05-02T09:45:00.000Z', endTime: '2026-05-02T10:00:00.000Z' })
  t.equal(given.body.processed, 1, 'b-first only')
  t.match(given.body.jobId, /^[0-9a-f-]{36}$/, 'a jobId is made when none is given')

  const nowWindow = await post(ctx, { window: {} })
  const end = Date.parse(nowWindow.body.window?.endTime ?? '')
  t.ok(end >= now && end <= Date.now(), 'endTime is the time of the call')
  t.equal(end - Date.parse(nowWindow.body.window?.startTime ?? ''), 15 * 60_000)
  t.equal(nowWindow.body.processed, 1, 'b-recent only')
  t.same(await mintedValues(ctx), ['b-first', 'b-recent'])
})

t.test('POST /reprocess {full: true} mints every work, with or without indexed_at', async (t) => {
  const ctx = await setup(t, 'reprocess-full')
  const noTimestamp = makeWork({ value: 'b-untimed' })
  await ctx.seed([work('b-1', '2020-01-01T00:00:00Z'), work('b-2', '2030-01-01T00:00:00Z'), noTimestamp])
  const { body } = await post(ctx, { full: true, jobId: 'all' })
  t.same({ full: body.full, processed: body.processed, cursor: body.cursor }, { full: true, processed: 3, cursor: undefined })
  t.same(await mintedValues(ctx), ['b-1', 'b-2', 'b-untimed'])
})

t.test('POST /reprocess answers 400 for input that is not a reprocess request', async (t) => {
  const ctx = await setup(t, 'reprocess-invalid')
  const window = { startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T10:15:00Z' }
  const cases: Array<[unknown, RegExp]> = [
    [{}, /either window or full/],
    [{ window, full: true }, /either window or full/],
    [{ jobId: 'x' }, /either window or full/],
    [{ full: false }, /full/],
    [{ window: { startTime: 'yesterday' } }, /startTime/],
    [{ window: { startTime: '2026-05-02 10:00:00' } }, /startTime/],
    [{ window: { endTime: '2026-05-02T10:00:00' } }, /endTime/],
    [{ window: { startTime: '2026-02-31T10:00:00Z', endTime: '2026-03-04T00:00:00Z' } }, /startTime/],
    [{ window: { startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T24:00:00Z' } }, /endTime/],
    [{ window: { startTime: '2026-05-02T10:00:00.0001Z', endTime: '2026-05-02T11:00:00Z' } }, /startTime .*millisecond/],
    [{ window: { startTime: '2026-05-02T10:15:00Z', endTime: '2026-05-02T10:15:00Z' } }, /must be before window.endTime/],
    [{ window: { startTime: '2026-05-02T10:15:00Z', endTime: '2026-05-02T10:00:00Z' } }, /must be before window.endTime/],
    [{ window: { start: '2026-05-02T10:00:00Z' } }, /body\/window has an unknown field "start": its fields are startTime, endTime/],
    [{ windw: {}, full: true }, /body has an unknown field "windw"/],
    [{ full: true, slice: { id: 0, max: 2, of: 3 }, cursor: 'rc1.x.y' }, /body\/slice has an unknown field "of"/],
    [{ window, slice: { id: 0, max: 4 } }, /open the job with \{"slices": n\}/],
    [{ window, slice: { id: 4, max: 4 }, cursor: 'rc1.x.y' }, /slice.id/],
    [{ window, slice: { id: 0, max: 0 } }, /slice\/max/],
    [{ full: true, slices: 0 }, /slices/],
    [{ full: true, slices: 2, cursor: 'rc1.x.y' }, /slices opens a job/],
    [{ full: true, cursor: 'not-a-cursor' }, /not a reprocess cursor/],
    [{ full: true, cursor: '' }, /cursor/],
    [{ full: true, jobId: '' }, /jobId/],
    [{ full: true, jobId: 'j'.repeat(257) }, /jobId must NOT have more than 256 characters/],
    [{ full: true, sourceIdentifiers: ['b1'] }, /unknown field "sourceIdentifiers"/],
    [[], /object/],
  ]
  for (const [payload, reason] of cases) {
    const { status, body } = await post(ctx, payload)
    t.equal(status, 400, JSON.stringify(payload))
    t.same(Object.keys(body).sort(), ['error', 'message', 'statusCode'])
    t.match(body.message, reason, JSON.stringify(payload))
  }
  t.same(await mintedValues(ctx), [], 'nothing minted')
})

t.test('POST /reprocess asks for the same API keys as POST /mint', async (t) => {
  const ctx = await setup(t, 'reprocess-keys', { API_KEYS: 'k-one,k-two' })
  t.equal((await post(ctx, { full: true })).status, 401)
  t.equal((await post(ctx, { full: true }, { 'x-api-key': 'wrong' })).status, 401)
  const allowed = await post(ctx, { full: true }, { 'x-api-key': 'k-two' })
  t.equal(allowed.status, 200)
})

t.test('a run stopped early answers a cursor; continued with it, every work is minted once', async (t) => {
  const ctx = await setup(t, 'reprocess-cursor')
  const works = Array.from({ length: 620 }, (_, i) => work(`b${String(i).padStart(4, '0')}`, `2026-05-02T10:0${i % 10}:00Z`))
  await ctx.seed(works)
  // Stopped (as Ctrl-C stops the CLI) after its fourth chunk: pages of 250 ids, so it stops mid-page.
  const controller = new AbortController()
  let chunks = 0
  const first = await serviceOf(ctx, { pageSize: 250 }).reprocess(
    { window: { startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T10:10:00Z' }, jobId: 'resumed' },
    { deadline: new Deadline(60_000), signal: controller.signal, onChunk: () => ++chunks === 4 && controller.abort() },
  )
  t.equal(first.processed, 250 + 100, 'a page of 250 (chunks of 100, 100, 50), then the first chunk of the next page')
  t.type(first.cursor, 'string')
  t.equal((await mintedValues(ctx)).length, 350)

  // Continued over HTTP with the cursor alone (and the window it continues: here without its times).
  const rest = await untilDone(ctx, { window: {}, cursor: first.cursor })
  t.same(rest.map((a) => a.jobId), rest.map(() => 'resumed'), "the cursor's jobId carries on")
  t.same(rest[0]?.window, { startTime: '2026-05-02T10:00:00.000Z', endTime: '2026-05-02T10:10:00.000Z' })
  t.equal(first.processed + rest.reduce((n, a) => n + a.processed, 0), 620, 'every work processed once over both calls')
  t.same(await mintedValues(ctx), works.map((w) => w.value).sort())
})

t.test('a cursor is refused for another window, the full index, another slice or a damaged copy', async (t) => {
  const ctx = await setup(t, 'reprocess-cursor-checks')
  await ctx.seed(Array.from({ length: 150 }, (_, i) => work(`b${i}`, '2026-05-02T10:05:00Z')))
  const window = { startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T10:10:00Z' }
  const controller = new AbortController()
  const { cursor } = await serviceOf(ctx).reprocess({ window }, { deadline: new Deadline(60_000), signal: controller.signal, onChunk: () => controller.abort() })
  const before = await mintedValues(ctx)
  t.equal(before.length, 100)
  const damaged = `${(cursor as string).slice(0, -3)}${(cursor as string).endsWith('AAA') ? 'BBB' : 'AAA'}`
  const cases: Array<[unknown, RegExp]> = [
    [{ window: { ...window, endTime: '2026-05-02T10:10:00.001Z' }, cursor }, /continues the window \[2026-05-02T10:00:00.000Z, 2026-05-02T10:10:00.000Z\)/],
    [{ window: { startTime: '2026-05-02T09:00:00Z' }, cursor }, /continues the window/],
    [{ full: true, cursor }, /not the full index/],
    [{ window, cursor, slice: { id: 0, max: 2 } }, /continues no slice, not slice 0 of 2/],
    [{ window, cursor: damaged }, /cut short or altered/],
    [{ window, cursor: (cursor as string).slice(0, 40) }, /not a reprocess cursor|cut short/],
  ]
  for (const [payload, reason] of cases) {
    const { status, body } = await post(ctx, payload)
    t.equal(status, 400, JSON.stringify(payload).slice(0, 120))
    t.match(body.message, reason)
  }
  t.same(await mintedValues(ctx), before, 'nothing was minted by a refused cursor')
  // The same window, written in another zone, is the same window.
  const ok = await post(ctx, { window: { startTime: '2026-05-02T11:00:00+01:00' }, cursor })
  t.equal(ok.status, 200)
  t.equal(ok.body.processed, 50)
})

t.test('an expired point in time is a clear 410, and nothing starts again from the beginning', async (t) => {
  const ctx = await setup(t, 'reprocess-expired')
  await ctx.seed(Array.from({ length: 250 }, (_, i) => work(`b${i}`, '2026-05-02T10:05:00Z')))
  const controller = new AbortController()
  const { cursor } = await serviceOf(ctx).reprocess({ full: true }, { deadline: new Deadline(60_000), signal: controller.signal, onChunk: () => controller.abort() })
  // The point in time is the cursor's payload's `pit` (a base64url JSON payload between two dots).
  const payload = JSON.parse(Buffer.from((cursor as string).split('.')[1] as string, 'base64url').toString('utf8'))
  const closed = await ctx.es.closePointInTime({ id: payload.pit })
  t.ok(closed.succeeded, 'the test closed the point in time')

  const { status, body } = await post(ctx, { full: true, cursor })
  t.equal(status, 410)
  t.equal(body.error, 'Gone')
  t.match(body.message, /point in time .* has expired or was closed .*start again without a cursor/)
  t.equal((await mintedValues(ctx)).length, 100, 'only the first chunk, from before the point in time expired')
})

t.test('works that fail inside a window are counted, listed (the first 100) and logged with the jobId', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  const ctx = await setup(t, 'reprocess-failures', { LOG_LEVEL: 'warn' }, { logStream })
  const good = Array.from({ length: 40 }, (_, i) => work(`b-good-${i}`, '2026-05-02T10:01:00Z'))
  // Works whose root identifier is malformed (no value): each fails on its own. Long ids, so the
  // answer's size is tested near its worst.
  const longId = (i: number) => `Work[sierra-system-number/${'x'.repeat(480)}-${String(i).padStart(3, '0')}]`
  const bad = Array.from({ length: 130 }, (_, i) => {
    const w = work(`b-bad-${i}`, '2026-05-02T10:02:00Z')
    const state = { ...(w.work.state as object), sourceIdentifier: { identifierType: { id: 'sierra-system-number' }, ontologyType: 'Work' } }
    return { id: longId(i), work: { ...w.work, state } }
  })
  await ctx.seed([...good, ...bad, work('b-outside', '2026-05-02T11:00:00Z')])

  const { status, body, bytes } = await post(ctx, { window: { startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T10:30:00Z' }, jobId: 'with-failures' })
  t.equal(status, 200)
  t.same({ processed: body.processed, successCount: body.successCount, failureCount: body.failureCount }, { processed: 170, successCount: 40, failureCount: 130 })
  t.equal(body.failures.length, MAX_LISTED_FAILURES)
  t.equal(body.failuresTruncated, true)
  const badIds = new Set(bad.map((w) => w.id))
  t.ok(body.failures.every((f) => badIds.has(f.sourceIdentifier)), 'only the malformed works fail')
  const listed = body.failures[0] as { sourceIdentifier: string; error: string }
  t.equal(listed.error.length, 500, 'an error is cut to 500 characters in the answer')
  t.ok(listed.error.startsWith(`Failed to mint ID for ${listed.sourceIdentifier.slice(0, 400)}`) && listed.error.endsWith('…'))
  t.ok(bytes < 128 * 1024, `the answer (${bytes} bytes, 100 failures of 500-character ids) stays far below Step Functions' 256 KB`)
  t.same(await mintedValues(ctx), good.map((w) => w.value).sort(), 'the good works are minted')

  const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'reprocess: work failed')
  t.equal(logged.length, 130, 'every failure is logged, not only the listed ones')
  t.ok(logged.every((l) => l.jobId === 'with-failures' && badIds.has(l.sourceIdentifier)))
  const whole = logged.find((l) => l.sourceIdentifier === listed.sourceIdentifier)?.error as string
  t.ok(whole.startsWith(listed.error.slice(0, -1)) && whole.length > 500, 'the log line has the error whole')
  t.match(whole, /^Failed to mint ID for Work\[sierra-system-number\/x+-\d{3}\]: .*sourceIdentifier/)
})

t.test('slices of one job cover a window exactly once, none lost and none doubled, whatever is indexed meanwhile', async (t) => {
  const ctx = await setup(t, 'reprocess-slices')
  // A source index of 3 shards, as production's has several: slices cut across shards and documents.
  await ctx.es.indices.delete({ index: ctx.config.es_source_index })
  await ctx.es.indices.create({ index: ctx.config.es_source_index, settings: { analysis: indexConfig.source.analysis, number_of_shards: 3, number_of_replicas: 0 }, mappings: indexConfig.source.mappings })
  const inWindow = Array.from({ length: 700 }, (_, i) => work(`b-in-${i}`, `2026-05-02T10:${String(i % 60).padStart(2, '0')}:00Z`))
  const outside = Array.from({ length: 60 }, (_, i) => work(`b-out-${i}`, `2026-05-02T11:${String(i).padStart(2, '0')}:00Z`))
  await ctx.seed([...inWindow, ...outside])
  const window = { startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T11:00:00Z' }

  const opened = await post(ctx, { window, slices: 4, jobId: 'sliced' })
  t.same({ ...opened.body, cursor: typeof opened.body.cursor }, {
    jobId: 'sliced',
    window: { startTime: '2026-05-02T10:00:00.000Z', endTime: '2026-05-02T11:00:00.000Z' },
    slices: 4,
    processed: 0,
    successCount: 0,
    failureCount: 0,
    failures: [],
    failuresTruncated: false,
    cursor: 'string',
  })
  t.same(await mintedValues(ctx), [], 'opening a job mints nothing')
  // Indexed after the job opened: not part of it (the slices read the job's point in time).
  await ctx.seed([work('b-late', '2026-05-02T10:30:00Z')])

  const perSlice: number[] = []
  for (let id = 0; id < 4; id++) {
    const answers = await untilDone(ctx, { window, slice: { id, max: 4 }, cursor: opened.body.cursor })
    t.ok(answers.every((a) => a.slice?.id === id && a.slice.max === 4 && a.jobId === 'sliced'))
    perSlice.push(answers.reduce((n, a) => n + a.processed, 0))
  }
  t.ok(perSlice.filter((n) => n > 0).length >= 2, `the work is spread over the slices: ${perSlice.join(', ')}`)
  t.equal(perSlice.reduce((a, b) => a + b, 0), 700, 'the slices processed 700 works between them')
  t.same(await mintedValues(ctx), inWindow.map((w) => w.value).sort(), 'and they are exactly the 700 of the window: none lost, so none doubled')

  const wrongSlice = await post(ctx, { window, slice: { id: 0, max: 3 }, cursor: opened.body.cursor })
  t.equal(wrongSlice.status, 400)
  t.match(wrongSlice.body.message, /opens a job of 4 slices, not 3/)
  const noSlice = await post(ctx, { window, cursor: opened.body.cursor })
  t.match(noSlice.body.message, /give the slice/)
})

t.test('the reprocess service stops before its budget runs out, and the answer carries on from there', async (t) => {
  const ctx = await setup(t, 'reprocess-budget')
  await ctx.seed(Array.from({ length: 1000 }, (_, i) => work(`b${i}`, '2026-05-02T10:05:00Z')))
  // Chunks made slow (200 ms more each) by waiting before the real minter.
  const slow = (real: Minter): Minter => ({
    mint: async (request, deadline) => {
      await new Promise((resolve) => setTimeout(resolve, 200))
      return real.mint(request, deadline)
    },
  })
  const budgetMs = 1500
  const started = performance.now()
  const answer = await serviceOf(ctx, { minter: slow }).reprocess({ full: true }, { deadline: new Deadline(budgetMs) })
  const elapsed = performance.now() - started
  t.ok(elapsed < budgetMs, `answered after ${Math.round(elapsed)} ms, within its ${budgetMs} ms`)
  t.ok(answer.processed >= 100 && answer.processed < 1000, `${answer.processed} works, then a cursor`)
  t.equal(answer.processed % 100, 0, 'whole chunks')
  t.type(answer.cursor, 'string')
  t.equal((await mintedValues(ctx)).length, answer.processed)
  const rest = await untilDone(ctx, { full: true, cursor: answer.cursor })
  t.equal(answer.processed + rest.reduce((n, a) => n + a.processed, 0), 1000)
  t.equal((await mintedValues(ctx)).length, 1000)
})

t.test('POST /reprocess mints the _ids the search returned, exactly: one with a space around it is another work', async (t) => {
  const ctx = await setup(t, 'reprocess-exact-ids')
  const plain = work('b-space', '2026-05-02T10:00:00Z')
  const spaced = work('b-spaced', '2026-05-02T10:00:00Z')
  await ctx.seed([plain, { ...spaced, id: ` ${plain.id}` }, { ...work('b-nbsp', '2026-05-02T10:00:00Z'), id: `${plain.id}\u00a0` }])
  const { body } = await post(ctx, { full: true })
  t.same({ processed: body.processed, successCount: body.successCount, failureCount: body.failureCount }, { processed: 3, successCount: 3, failureCount: 0 })
  t.same(await mintedValues(ctx), ['b-nbsp', 'b-space', 'b-spaced'], 'each work minted, none in place of another')
})

t.test('POST /reprocess keeps its answer small whatever the failing works: listed failures are bounded in bytes, not only in number', async (t) => {
  const ctx = await setup(t, 'reprocess-answer-size')
  // 120 works without a root identifier, each under an _id of 512 control characters (6 bytes each in JSON).
  const hostile = Array.from({ length: 120 }, (_, i) => ({ id: `${String(i).padStart(3, '0')}${'\u0001'.repeat(509)}`, work: { data: { title: 'no identifier' }, indexed_at: '2026-05-02T10:00:00Z' } }))
  await ctx.seed(hostile)
  const { status, body, bytes } = await post(ctx, { full: true, jobId: 'j'.repeat(256) })
  t.equal(status, 200)
  t.equal(body.failureCount, 120, 'every failure counted')
  t.equal(body.failuresTruncated, true, 'and the list says it is cut')
  t.ok(body.failures.length > 0 && body.failures.length < 100, `${body.failures.length} listed`)
  t.ok(bytes < 200 * 1024, `the answer is ${bytes} bytes, below Step Functions' 256 KB with room to spare`)
})
