// Copies of one work minted in any order leave the newest in the identified index: works are
// indexed with external_gte versions from state.sourceModifiedTime, as the existing pipeline did.
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { mint, setup, type TestContext } from '../helpers.js'

const MAY_1 = '2026-05-01T09:00:00Z'
const MAY_2 = '2026-05-02T09:00:00Z'

/** A copy of the work with source identifier `value`, as modified at `modified`, under the source _id `id`. */
function copy(value: string, modified: string | null | undefined, title: string, id = `Work[sierra-system-number/${value}]`) {
  const work = makeWork({ id, value, nested: 2, title })
  const state = work.work.state as Record<string, unknown>
  if (modified === undefined) delete state.sourceModifiedTime
  else state.sourceModifiedTime = modified
  return work
}

async function identifiedTitle(ctx: TestContext, value: string): Promise<string | undefined> {
  const [row] = await ctx.sql<{ CanonicalId: string }>("SELECT CanonicalId FROM identifiers WHERE OntologyType = 'Work' AND SourceId = ?", [value])
  const doc = row ? ((await ctx.identified(row.CanonicalId)) as { data: { title: string } } | undefined) : undefined
  return doc?.data.title
}

t.test('POST /mint: an older copy minted after a newer one leaves the newer indexed, and both succeed', async (t) => {
  const log: string[] = []
  const ctx = await setup(t, 'versioning-order', { LOG_LEVEL: 'info' }, { logStream: { write: (line: string) => log.push(line) } as never })
  const id = 'Work[sierra-system-number/b1]'

  await ctx.seed([copy('b1', MAY_2, 'newer')])
  t.same((await mint(ctx.app, { sourceIdentifiers: [id] })).body.successes, [id])
  await ctx.seed([copy('b1', MAY_1, 'older')]) // the source index receives an older copy
  const answer = await mint(ctx.app, { sourceIdentifiers: [id] })
  t.same(answer.body, { successes: [id], failures: [] }, 'the older copy is a success: its IDs are stored')
  t.equal(await identifiedTitle(ctx, 'b1'), 'newer')
  const superseded = log.map((line) => JSON.parse(line)).filter((line) => line.msg?.startsWith('superseded'))
  t.equal(superseded.length, 1, 'logged once')
  t.equal(superseded[0]?.level, 30, 'at info')
  t.equal(superseded[0]?.sourceIdentifier, id)
  const metrics = await ctx.app.inject({ method: 'GET', url: '/metrics' })
  t.match(metrics.body, /^id_minter_superseded_total 1$/m, 'and counted')

  // New after old: the newer copy replaces the older one.
  await ctx.seed([copy('b2', MAY_1, 'older')])
  await mint(ctx.app, { sourceIdentifiers: ['Work[sierra-system-number/b2]'] })
  await ctx.seed([copy('b2', MAY_2, 'newer')])
  await mint(ctx.app, { sourceIdentifiers: ['Work[sierra-system-number/b2]'] })
  t.equal(await identifiedTitle(ctx, 'b2'), 'newer')

  // The same copy minted again (an equal version) is written again.
  await ctx.seed([copy('b2', MAY_2, 'newer, re-read')])
  await mint(ctx.app, { sourceIdentifiers: ['Work[sierra-system-number/b2]'] })
  t.equal(await identifiedTitle(ctx, 'b2'), 'newer, re-read')
})

t.test('POST /mint: a work without a modified time is indexed without a version; a malformed one fails that work', async (t) => {
  const ctx = await setup(t, 'versioning-unversioned')
  await ctx.seed([copy('b3', undefined, 'no time'), copy('b4', null, 'null time'), copy('b5', 'yesterday', 'bad time'), copy('b6', '1969-12-31T23:59:59Z', 'before 1970')])
  const ids = ['b3', 'b4', 'b5', 'b6'].map((v) => `Work[sierra-system-number/${v}]`)
  const { body } = await mint(ctx.app, { sourceIdentifiers: ids })
  t.same(body.successes, ids.slice(0, 2))
  t.match(body.failures, [
    { sourceIdentifier: ids[2], error: /state\.sourceModifiedTime "yesterday" is not an ISO-8601 date-time/ },
    { sourceIdentifier: ids[3], error: /from 1970 on/ },
  ])
  t.equal(await identifiedTitle(ctx, 'b3'), 'no time')
  // A later copy with a modified time replaces an unversioned one.
  await ctx.seed([copy('b3', MAY_1, 'with time')])
  await mint(ctx.app, { sourceIdentifiers: [ids[0]] })
  t.equal(await identifiedTitle(ctx, 'b3'), 'with time')
})

t.test('POST /mint: two copies minted concurrently, many rounds: the newest always stays and every answer is a success', async (t) => {
  const ctx = await setup(t, 'versioning-race')
  const rounds = 20
  // Two source documents per round carry copies of one work (the same state.sourceIdentifier).
  const seeds = Array.from({ length: rounds }, (_, r) => [
    copy(`r${r}`, MAY_1, 'older', `old-${r}`),
    copy(`r${r}`, MAY_2, 'newer', `new-${r}`),
  ]).flat()
  await ctx.seed(seeds)
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [`old-${r}`, `new-${r}`] : [`new-${r}`, `old-${r}`]
    const answers = await Promise.all(order.map((id) => mint(ctx.app, { sourceIdentifiers: [id] })))
    for (const [i, answer] of answers.entries()) t.same(answer.body.successes, [order[i]], `round ${r}: ${order[i]} succeeds`)
  }
  const titles = await Promise.all(Array.from({ length: rounds }, (_, r) => identifiedTitle(ctx, `r${r}`)))
  t.same(titles, Array(rounds).fill('newer'), 'the newer copy is indexed in every round')
})

t.test('POST /mint: copies sharing a root canonical ID in one request: the newest, then the successor, is the one indexed', async (t) => {
  const ctx = await setup(t, 'versioning-same-request')
  await ctx.seed([copy('b7', MAY_2, 'newer', 'a-new'), copy('b7', MAY_1, 'older', 'a-old')])
  const { body } = await mint(ctx.app, { sourceIdentifiers: ['a-new', 'a-old'] })
  t.same(body.successes, ['a-new', 'a-old'])
  t.equal(await identifiedTitle(ctx, 'b7'), 'newer', 'the newer copy wins wherever it stands in the request')

  // A predecessor and its successor, one request, the same modified time: the successor is indexed.
  const predecessor = makeWork({ identifierType: 'calm-record-id', value: 'c-7', title: 'predecessor' })
  const successor = makeWork({ value: 'b8', predecessor: { identifierType: 'calm-record-id', value: 'c-7' }, title: 'successor' })
  await ctx.seed([successor, predecessor])
  const both = await mint(ctx.app, { sourceIdentifiers: [successor.id, predecessor.id] })
  t.same(both.body.successes, [successor.id, predecessor.id])
  const rows = await ctx.mappings()
  const inherited = rows.find((r) => r.SourceId === 'b8')?.CanonicalId
  t.equal(inherited, rows.find((r) => r.SourceId === 'c-7')?.CanonicalId, 'the successor inherits the predecessor minted in the same request')
  t.equal(((await ctx.identified(inherited as string)) as { data: { title: string } }).data.title, 'successor')
})

t.test('POST /mint: when the copy a request indexes instead is rejected, the copy that gave way fails too', async (t) => {
  const ctx = await setup(t, 'versioning-winner-rejected')
  // A stricter target mapping than production's: version must be a number. The newer copy breaks it.
  await ctx.es.indices.putMapping({ index: ctx.config.es_identified_index, properties: { version: { type: 'long' } } })
  const older = copy('b9', MAY_1, 'older', 'c-old')
  const newer = copy('b9', MAY_2, 'newer', 'c-new')
  ;(newer.work as Record<string, unknown>).version = 'not a number'
  await ctx.seed([older, newer])
  const { body } = await mint(ctx.app, { sourceIdentifiers: ['c-old', 'c-new'] })
  t.same(body.successes, [], 'neither is a success: nothing stands under their canonical ID')
  t.match(body.failures, [
    { sourceIdentifier: 'c-old', error: /c-new, the copy of the same work this request indexed instead, was rejected by .*document_parsing_exception/ },
    { sourceIdentifier: 'c-new', error: /rejected by .*document_parsing_exception/ },
  ])
  t.equal(await identifiedTitle(ctx, 'b9'), undefined, 'and nothing is indexed')
})

t.test('POST /mint: a modified time that names no real date (31 February) fails the work, rather than ordering it as 3 March', async (t) => {
  const ctx = await setup(t, 'versioning-impossible-date')
  await ctx.seed([copy('b10', '2026-02-31T00:00:00Z', 'impossible'), copy('b11', '2026-02-28T24:00:00Z', 'hour 24'), copy('b12', '2024-02-29T10:00:00+01:00', 'leap day')])
  const { body } = await mint(ctx.app, { sourceIdentifiers: ['b10', 'b11', 'b12'].map((v) => `Work[sierra-system-number/${v}]`) })
  t.same(body.successes, ['Work[sierra-system-number/b12]'], 'a real leap day is a version')
  t.match(body.failures, [
    { sourceIdentifier: 'Work[sierra-system-number/b10]', error: /"2026-02-31T00:00:00Z" is not an ISO-8601 date-time/ },
    { sourceIdentifier: 'Work[sierra-system-number/b11]', error: /"2026-02-28T24:00:00Z" is not an ISO-8601 date-time/ },
  ])
})
