import t from 'tap'
import { CANONICAL_ID_PATTERN } from '../../src/services/canonical-id.js'
import { makeWork, sourceIdentifier, workId } from '../../fixtures/works.js'
import { mint, setup } from '../helpers.js'

const canonical = new RegExp(CANONICAL_ID_PATTERN)

/** A work with one node of each kind the traversal must handle. */
function nestedWork(value: string) {
  return {
    id: workId('sierra-system-number', value),
    work: {
      state: { sourceIdentifier: sourceIdentifier('sierra-system-number', 'Work', value), mergeCandidates: [] },
      data: {
        title: 'A treatise',
        otherIdentifiers: [sourceIdentifier('sierra-identifier', 'Work', value.slice(1))],
        subjects: [
          {
            id: {
              type: 'Identifiable',
              sourceIdentifier: sourceIdentifier('lc-subjects', 'Subject', `${value}-sh`),
              identifiedType: 'Subject',
              otherIdentifiers: [sourceIdentifier('mesh', 'Subject', 'D001')],
            },
            label: 'Anatomy',
            concepts: [
              { id: { type: 'Identifiable', sourceIdentifier: sourceIdentifier('lc-names', 'Person', 'n100') }, label: 'Vesalius' },
              { id: { type: 'Unidentifiable' }, label: 'No identifier' },
            ],
          },
        ],
        contributors: [
          { agent: { id: { type: 'Identifiable', sourceIdentifier: sourceIdentifier('lc-names', 'Agent', 'n100') }, label: 'A. Vesalius' } },
        ],
        items: [{ id: { type: 'Identifiable', sourceIdentifier: sourceIdentifier('sierra-system-number', 'Item', `i${value}`) }, notes: [null, 1, 'x'] }],
      },
      version: 3,
      type: 'Visible',
    },
  }
}

t.test('POST /mint identifies every node at any depth, promotes types and keeps the rest verbatim', async (t) => {
  const ctx = await setup(t, 'mint-traversal')
  const { id, work } = nestedWork('b100')
  await ctx.seed([{ id, work }])

  const { status, body } = await mint(ctx.app, { sourceIdentifiers: [id], jobId: 'job-1' })
  t.equal(status, 200)
  t.same(body, { successes: [id], failures: [], jobId: 'job-1' })

  const rows = await ctx.mappings()
  const byKey = new Map(rows.map((r) => [`${r.OntologyType}/${r.SourceSystem}/${r.SourceId}`, r.CanonicalId]))
  t.equal(rows.length, 4, 'work, subject, one concept for Person+Agent, item')
  const workCanonicalId = byKey.get('Work/sierra-system-number/b100') as string
  t.match(workCanonicalId, canonical)
  t.equal(byKey.get('Concept/lc-names/n100') !== undefined, true, 'Person and Agent are stored as Concept')
  t.notOk(byKey.has('Work/sierra-identifier/100'), 'otherIdentifiers are not nodes')

  const indexed = (await ctx.identified(workCanonicalId)) as any
  t.ok(indexed, 'indexed under the root canonical ID')
  t.equal(indexed.state.canonicalId, workCanonicalId)
  const subject = indexed.data.subjects[0].id
  t.equal(subject.type, 'Subject', 'identifiedType becomes the type')
  t.notOk('identifiedType' in subject)
  t.equal(subject.canonicalId, byKey.get('Subject/lc-subjects/b100-sh'))
  t.same(subject.otherIdentifiers, [sourceIdentifier('mesh', 'Subject', 'D001')])
  const person = indexed.data.subjects[0].concepts[0].id
  const agent = indexed.data.contributors[0].agent.id
  t.equal(person.type, 'Identified', 'Identifiable becomes Identified')
  t.equal(person.canonicalId, agent.canonicalId, 'an Agent and a Person with one source id share a canonical ID')
  t.same(indexed.data.subjects[0].concepts[1], { id: { type: 'Unidentifiable' }, label: 'No identifier' })
  t.equal(indexed.data.items[0].id.canonicalId, byKey.get('Item/sierra-system-number/ib100'))

  // Everything but the identified nodes is as it was in the source.
  const expected = structuredClone(work) as any
  expected.state.canonicalId = workCanonicalId
  Object.assign(expected.data.subjects[0].id, { canonicalId: subject.canonicalId, type: 'Subject' })
  delete expected.data.subjects[0].id.identifiedType
  Object.assign(expected.data.subjects[0].concepts[0].id, { canonicalId: person.canonicalId, type: 'Identified' })
  Object.assign(expected.data.contributors[0].agent.id, { canonicalId: agent.canonicalId, type: 'Identified' })
  Object.assign(expected.data.items[0].id, { canonicalId: indexed.data.items[0].id.canonicalId, type: 'Identified' })
  t.same(indexed, expected)
})

t.test('POST /mint is idempotent and shares identifiers across works', async (t) => {
  const ctx = await setup(t, 'mint-idempotent')
  const shared: [string, string, string, string] = ['Concept', 'lc-subjects', 'sh001', 'Medicine']
  const a = makeWork({ value: 'b1', nested: 5, sharedConcepts: [shared] })
  const b = makeWork({ value: 'b2', nested: 5, sharedConcepts: [shared] })
  await ctx.seed([a, b])

  const first = await mint(ctx.app, { sourceIdentifiers: [a.id] })
  t.same(first.body.successes, [a.id])
  const before = await ctx.mappings()
  const second = await mint(ctx.app, { sourceIdentifiers: [a.id, b.id] })
  t.same(second.body, { successes: [a.id, b.id], failures: [] }, 'jobId absent when not given')
  const after = await ctx.mappings()
  for (const row of before) {
    const same = after.find((r) => r.OntologyType === row.OntologyType && r.SourceSystem === row.SourceSystem && r.SourceId === row.SourceId)
    t.equal(same?.CanonicalId, row.CanonicalId, `${row.SourceId} keeps its canonical ID`)
  }
  const concept = after.filter((r) => r.SourceId === 'sh001')
  t.equal(concept.length, 1, 'the shared concept has one mapping')
  t.equal(after.length, before.length + 6, 'b2 adds its own six identifiers only')
  const assigned = await ctx.sql<{ n: number }>("SELECT COUNT(*) AS n FROM canonical_ids WHERE Status = 'assigned'")
  t.equal(Number(assigned[0]?.n), after.length, 'every mapped canonical ID is registered as assigned, none orphaned')
})

t.test('POST /mint matches identifier text exactly: case, Unicode, quotes, backslashes and SQL', async (t) => {
  const ctx = await setup(t, 'mint-exact')
  const values = ['b123', 'B123', 'b123 ', 'é', 'e\u0301', '漢字🦉', "O'Brien", 'back\\slash', "x'; DROP TABLE identifiers; --", '\t\u0001ctl']
  const works = values.map((value, i) => ({
    id: `w${i}`,
    work: { sourceIdentifier: sourceIdentifier('sierra-system-number', 'Work', value), type: 'Identifiable' },
  }))
  await ctx.seed(works)
  const { body } = await mint(ctx.app, { sourceIdentifiers: works.map((w) => w.id) })
  t.same(body.failures, [])
  const rows = await ctx.sql<{ SourceId: Buffer; CanonicalId: string }>('SELECT SourceId, CanonicalId FROM identifiers')
  t.same(rows.map((r) => r.SourceId.toString('utf8')).sort(), [...values].sort(), 'stored byte for byte')
  t.equal(new Set(rows.map((r) => r.CanonicalId)).size, values.length, 'each distinct text has its own canonical ID')
  const again = await mint(ctx.app, { sourceIdentifiers: works.map((w) => w.id) })
  t.same(again.body.failures, [])
  const rowsAgain = await ctx.sql<{ CanonicalId: string }>('SELECT CanonicalId FROM identifiers')
  t.equal(rowsAgain.length, values.length, 'found again, nothing minted twice')
})

t.test('POST /mint inherits a predecessor canonical ID, and fails the work whose predecessor is unknown', async (t) => {
  const ctx = await setup(t, 'mint-predecessor')
  const old = makeWork({ identifierType: 'calm-record-id', value: 'c-1' })
  const moved = makeWork({ value: 'b9', predecessor: { identifierType: 'calm-record-id', value: 'c-1' } })
  const orphan = makeWork({ value: 'b10', predecessor: { identifierType: 'calm-record-id', value: 'c-missing' } })
  await ctx.seed([old, moved, orphan])

  await mint(ctx.app, { sourceIdentifiers: [old.id] })
  const { body } = await mint(ctx.app, { sourceIdentifiers: [moved.id, orphan.id] })
  t.same(body.successes, [moved.id])
  t.equal(body.failures.length, 1)
  t.equal(body.failures[0].sourceIdentifier, orphan.id)
  t.match(body.failures[0].error, `Failed to mint ID for ${orphan.id}: predecessor Work[calm-record-id/c-missing]`)
  t.match(body.failures[0].error, /has no canonical ID/)

  const rows = await ctx.mappings()
  const oldId = rows.find((r) => r.SourceId === 'c-1')?.CanonicalId as string
  t.equal(rows.find((r) => r.SourceId === 'b9')?.CanonicalId, oldId, 'the successor keeps the predecessor canonical ID')
  t.notOk(rows.some((r) => r.SourceId === 'b10' || r.SourceId.startsWith('b10-')), 'nothing of the failed work was minted')
  const indexed = (await ctx.identified(oldId)) as any
  t.equal(indexed.state.sourceIdentifier.value, 'b9', 'the successor is indexed under the inherited ID')
})

t.test('POST /mint trims, collapses repeats and answers every identifier once, in request order', async (t) => {
  const ctx = await setup(t, 'mint-order')
  const a = makeWork({ value: 'b1' })
  const b = makeWork({ value: 'b2' })
  await ctx.seed([a, b])
  const { status, body } = await mint(ctx.app, {
    sourceIdentifiers: ['missing-1', `  ${b.id}`, a.id, `${b.id}\n`, 'missing-1', 'missing-2'],
    extra: 'ignored',
  })
  t.equal(status, 200)
  t.same(body.successes, [b.id, a.id])
  t.same(
    body.failures.map((f: { sourceIdentifier: string }) => f.sourceIdentifier),
    ['missing-1', 'missing-2'],
  )
  t.equal(body.failures[0].error, `Failed to mint ID for missing-1: not found in ${ctx.config.es_source_index}`)
})

t.test('POST /mint fails only the works with a problem, saying which and where', async (t) => {
  const ctx = await setup(t, 'mint-partial')
  const good = makeWork({ value: 'b1', nested: 2 })
  const malformed = makeWork({ value: 'b2', nested: 3 })
  ;(malformed.work as any).data.items[0].id.sourceIdentifier.identifierType = 'not-an-object'
  const noRoot = { id: 'no-root', work: { state: { mergeCandidates: [] }, data: {} } }
  const notAnObjectValue = { id: 'bad-value', work: { sourceIdentifier: { identifierType: { id: 'x' }, ontologyType: 'Work', value: 7 } } }
  await ctx.seed([good, malformed, noRoot, notAnObjectValue])

  const { body } = await mint(ctx.app, { sourceIdentifiers: [good.id, malformed.id, noRoot.id, notAnObjectValue.id] })
  t.same(body.successes, [good.id])
  const errors = Object.fromEntries(body.failures.map((f: { sourceIdentifier: string; error: string }) => [f.sourceIdentifier, f.error]))
  t.equal(
    errors[malformed.id],
    `Failed to mint ID for ${malformed.id}: malformed sourceIdentifier at $.data.items[0].id.sourceIdentifier: identifierType must be an object`,
  )
  t.equal(errors['no-root'], 'Failed to mint ID for no-root: the work has no root identifier (state.sourceIdentifier)')
  t.equal(errors['bad-value'], 'Failed to mint ID for bad-value: malformed sourceIdentifier at $.sourceIdentifier: value must be a non-empty string')
  const rows = await ctx.mappings()
  t.equal(rows.length, 3, 'only the good work was minted')
})

t.test('POST /mint fails the work the target index rejects, and keeps its minted IDs for the retry', async (t) => {
  const ctx = await setup(t, 'mint-rejected')
  // A stricter target mapping than production's: version must be a number.
  await ctx.es.indices.putMapping({ index: ctx.config.es_identified_index, properties: { version: { type: 'long' } } })
  const good = makeWork({ value: 'b1' })
  const bad = makeWork({ value: 'b2', nested: 2 })
  ;(bad.work as any).version = 'not a number'
  await ctx.seed([good, bad])

  const first = await mint(ctx.app, { sourceIdentifiers: [good.id, bad.id] })
  t.same(first.body.successes, [good.id])
  t.match(first.body.failures[0].error, `Failed to mint ID for ${bad.id}: rejected by ${ctx.config.es_identified_index}: document_parsing_exception`)
  const minted = await ctx.mappings()
  const second = await mint(ctx.app, { sourceIdentifiers: [bad.id] })
  t.equal(second.body.failures.length, 1)
  t.same(await ctx.mappings(), minted, 'the retry finds the same canonical IDs and mints nothing new')
})

t.test('POST /mint handles a 100-work batch of 6 identifiers each', async (t) => {
  const ctx = await setup(t, 'mint-batch')
  const works = Array.from({ length: 100 }, (_, i) => makeWork({ value: `b${2000 + i}`, nested: 5 }))
  await ctx.seed(works)
  const { status, body } = await mint(ctx.app, { sourceIdentifiers: works.map((w) => w.id) })
  t.equal(status, 200)
  t.equal(body.successes.length, 100)
  const rows = await ctx.mappings()
  t.equal(rows.length, 600)
  t.equal(new Set(rows.map((r) => r.CanonicalId)).size, 600, 'no canonical ID given twice')
  t.ok(rows.every((r) => canonical.test(r.CanonicalId)))
  await ctx.es.indices.refresh({ index: ctx.config.es_identified_index })
  const count = await ctx.es.count({ index: ctx.config.es_identified_index })
  t.equal(count.count, 100)
})

t.test('POST /mint from concurrent requests agrees on one canonical ID per identifier', async (t) => {
  const ctx = await setup(t, 'mint-concurrent')
  const shared: Array<[string, string, string, string]> = [
    ['Concept', 'lc-subjects', 'sh1', 'Anatomy'],
    ['Person', 'lc-names', 'n1', 'Harvey'],
    ['Agent', 'lc-names', 'n1', 'Harvey'],
  ]
  const works = Array.from({ length: 40 }, (_, i) => makeWork({ value: `b${i}`, nested: 2, sharedConcepts: shared }))
  await ctx.seed(works)
  // Eight requests, each overlapping the others in works and in shared concepts.
  const batches = Array.from({ length: 8 }, (_, r) => works.filter((_, i) => (i + r) % 3 !== 0).slice(r, r + 20))
  const results = await Promise.all(batches.map((batch) => mint(ctx.app, { sourceIdentifiers: batch.map((w) => w.id) })))
  for (const [i, result] of results.entries()) {
    t.equal(result.status, 200)
    t.same(result.body.failures, [], `request ${i} had no failures`)
  }
  const rows = await ctx.mappings()
  const keys = rows.map((r) => `${r.OntologyType}/${r.SourceSystem}/${r.SourceId}`)
  t.equal(new Set(keys).size, keys.length, 'one row per identifier')
  t.equal(new Set(rows.map((r) => r.CanonicalId)).size, rows.length, 'no canonical ID shared')
  const orphans = await ctx.sql<{ n: number }>(
    'SELECT COUNT(*) AS n FROM canonical_ids c LEFT JOIN identifiers i ON i.CanonicalId = c.CanonicalId WHERE i.CanonicalId IS NULL',
  )
  t.equal(Number(orphans[0]?.n), 0, 'no canonical ID left registered but unused')
})

t.test('POST /mint answers 503 when a dependency is unreachable, so callers retry', async (t) => {
  const db = await setup(t, 'mint-db-down', { db_port: '1', APPLY_MIGRATIONS: 'false' })
  const work = makeWork({ value: 'b1' })
  await db.seed([work])
  const dbDown = await mint(db.app, { sourceIdentifiers: [work.id] })
  t.equal(dbDown.status, 503)
  t.equal(dbDown.body.error, 'Service Unavailable')
  t.match(dbDown.body.message, /Database unavailable/)

  const es = await setup(t, 'mint-es-down', { es_upstream_port: '1' })
  const esDown = await mint(es.app, { sourceIdentifiers: [work.id] })
  t.equal(esDown.status, 503)
  t.match(esDown.body.message, /Elasticsearch unavailable/)
})
