/**
 * Elasticsearch faults, through a proxy in front of the shared cluster: cut and restored under the
 * running service, the target alone cut (after IDs are minted), a silent cluster, a target index
 * that rejects some documents, and documents of 5 to 20 MB (the bulk-size question).
 */
import { createHash } from 'node:crypto'
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { TcpProxy } from './proxy.js'
import { directDatabase, embeddedIdProblems, eventually, health, indexedDocument, isolatedApp, mintInject, rowKey, within, workKeys } from './support.js'

const shared: [string, string, string, string] = ['Agent', 'lc-names', 'n-es', 'A shared agent']

t.test('Elasticsearch cut and restored under the running service', async (t) => {
  const proxy = await TcpProxy.start({ targetPort: 9200 })
  t.teardown(() => proxy.close())
  const ctx = await isolatedApp(t, 'es-cut', { es_upstream_port: String(proxy.port), es_downstream_port: String(proxy.port) })
  const [a, b] = [makeWork({ value: 'bescut1', nested: 3, sharedConcepts: [shared] }), makeWork({ value: 'bescut2', nested: 3, sharedConcepts: [shared] })]
  await ctx.seed([a, b])
  t.same(await mintInject(ctx.app, { sourceIdentifiers: [a.id] }), { status: 200, body: { successes: [a.id], failures: [] } }, 'mints before the cut')

  proxy.cut()
  const started = Date.now()
  const refused = await within(mintInject(ctx.app, { sourceIdentifiers: [b.id] }), 30_000, 'mint while cut')
  t.equal(refused.status, 503, `mint is 503 while Elasticsearch is cut (answered in ${Date.now() - started} ms)`)
  t.match(refused.body, { statusCode: 503, error: 'Service Unavailable', message: /^Elasticsearch unavailable/ })
  const down = await health(ctx.app)
  t.equal(down.status, 503, '/health is 503')
  t.equal(down.body.checks.sourceIndex.status, 'error', 'the source index check fails')
  t.equal(down.body.checks.identifiedIndex.status, 'error', 'the identified index check fails')
  t.equal(down.body.checks.database.status, 'ok', 'the database check is still ok')

  proxy.restore()
  t.ok(await eventually(async () => (await health(ctx.app)).status === 200, 15_000), '/health is 200 again without a restart')
  t.same(await mintInject(ctx.app, { sourceIdentifiers: [b.id, a.id] }), { status: 200, body: { successes: [b.id, a.id], failures: [] } }, 'and the same app mints')
  const mapping = new Map((await (await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)).mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, mapping.get(workKeys(b.work).root) as string)
  t.same(embeddedIdProblems(indexed, mapping), [], 'the work minted after the outage is indexed with its IDs')
})

t.test('the target alone cut after minting: 503, the minted IDs stay, the retry reuses them', async (t) => {
  const target = await TcpProxy.start({ targetPort: 9200 })
  t.teardown(() => target.close())
  const ctx = await isolatedApp(t, 'es-target-cut', { es_downstream_port: String(target.port) })
  await ctx.app.database.ready?.()
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  const w = makeWork({ value: 'btarget', nested: 5, sharedConcepts: [shared] })
  await ctx.seed([w])

  target.cut()
  const refused = await within(mintInject(ctx.app, { sourceIdentifiers: [w.id] }), 30_000, 'mint with the target cut')
  t.equal(refused.status, 503, 'mint is 503 when the target cannot be written')
  t.match(refused.body.message, /^Elasticsearch unavailable (checking|writing) t-identified-/, 'the answer says the identified index could not be written')
  const keys = workKeys(w.work).keys
  const minted = new Map((await db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  t.equal(keys.filter((k) => minted.has(k)).length, keys.length, 'the IDs were minted before the write failed')
  const h = await health(ctx.app)
  t.equal(h.body.checks.identifiedIndex.status, 'error', '/health names the identified index')
  t.equal(h.body.checks.sourceIndex.status, 'ok', 'and not the source index')

  target.restore()
  t.same(await within(mintInject(ctx.app, { sourceIdentifiers: [w.id] }), 30_000, 'retry'), { status: 200, body: { successes: [w.id], failures: [] } }, 'the retry succeeds')
  const after = new Map((await db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  t.same(keys.map((k) => after.get(k)), keys.map((k) => minted.get(k)), 'with the very IDs minted by the failed attempt')
  const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, after.get(workKeys(w.work).root) as string)
  t.same(embeddedIdProblems(indexed, after), [], 'which the indexed work carries')
  t.same(await db.orphans(), [])
})

t.test('Elasticsearch silent (connections open, no answer): mint is 503 in bounded time', async (t) => {
  const proxy = await TcpProxy.start({ targetPort: 9200 })
  t.teardown(async () => {
    proxy.restore()
    await proxy.close()
  })
  const ctx = await isolatedApp(t, 'es-silent', { es_upstream_port: String(proxy.port), es_downstream_port: String(proxy.port) })
  const w = makeWork({ value: 'bessilent', nested: 1 })
  await ctx.seed([w])
  t.equal((await mintInject(ctx.app, { sourceIdentifiers: [w.id] })).status, 200)
  proxy.blackhole()
  const started = Date.now()
  const h = await within(health(ctx.app), 10_000, 'health while silent')
  t.equal(h.status, 503, `/health is 503 within its 3 s check timeout (${Date.now() - started} ms)`)
  const answer = await within(mintInject(ctx.app, { sourceIdentifiers: [w.id] }), 70_000, 'mint while silent').catch((e: Error) => ({ status: 0, body: { message: e.message } }))
  t.equal(answer.status, 503, `mint is 503 (after ${Date.now() - started} ms: ${answer.body.message})`)
  proxy.restore()
  t.ok(await eventually(async () => (await mintInject(ctx.app, { sourceIdentifiers: [w.id] })).status === 200, 30_000, 200), 'mints again once it answers')
})

t.test('the target index rejects some documents: only those fail, with the reason, and their IDs stay stable', async (t) => {
  const ctx = await isolatedApp(t, 'es-reject')
  await ctx.app.database.ready?.()
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  // The target is stricter than the source (dynamic: false there, so the source takes anything).
  await ctx.es.indices.putMapping({
    index: ctx.config.es_identified_index,
    properties: { data: { properties: { pageCount: { type: 'long' }, notes: { type: 'keyword' } } } },
  })
  const good1 = makeWork({ value: 'bgood1', nested: 2, sharedConcepts: [shared] })
  const conflict = makeWork({ value: 'bconflict', nested: 3, sharedConcepts: [shared] })
  const immense = makeWork({ value: 'bimmense', nested: 3 })
  const good2 = makeWork({ value: 'bgood2', nested: 2 })
  ;(conflict.work.data as Record<string, unknown>).pageCount = 'three hundred and twelve'
  ;(immense.work.data as Record<string, unknown>).notes = 'n'.repeat(40_000) // a keyword term over Lucene's 32766-byte limit
  await ctx.seed([good1, conflict, immense, good2])
  const ids = [good1.id, conflict.id, immense.id, good2.id]

  const first = await mintInject(ctx.app, { sourceIdentifiers: ids })
  t.equal(first.status, 200, 'the request succeeds as a whole')
  t.same(first.body.successes, [good1.id, good2.id], 'the accepted works succeed')
  t.same(first.body.failures.map((f: { sourceIdentifier: string }) => f.sourceIdentifier), [conflict.id, immense.id], 'only the rejected works fail')
  const [conflictError, immenseError] = first.body.failures.map((f: { error: string }) => f.error)
  t.match(conflictError, `Failed to mint ID for ${conflict.id}: rejected by ${ctx.config.es_identified_index}: `, 'the error names the work and the index')
  t.match(conflictError, /document_parsing_exception|mapper_parsing_exception/, "and carries Elasticsearch's error type")
  t.match(conflictError, /data\.pageCount.*long/, "and Elasticsearch's reason")
  t.match(immenseError, /data\.notes.*keyword/, 'the oversized keyword is rejected with its reason')
  t.comment(`conflict: ${conflictError}`)
  t.comment(`immense: ${immenseError.slice(0, 300)}`)

  const snapshot = async () => new Map((await db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
  const minted = await snapshot()
  for (const w of [conflict, immense]) {
    const keys = workKeys(w.work).keys
    t.equal(keys.filter((k) => minted.has(k)).length, keys.length, `${w.id}: its IDs are minted in MySQL although it was rejected`)
  }
  const again = await mintInject(ctx.app, { sourceIdentifiers: ids })
  t.same(again.body.failures.map((f: { sourceIdentifier: string }) => f.sourceIdentifier), [conflict.id, immense.id], 'a retry as is fails the same way')
  t.same(await snapshot(), minted, 'and changes no ID')

  // Fixed at the source, the works go through with the IDs minted the first time.
  delete (conflict.work.data as Record<string, unknown>).pageCount
  ;(immense.work.data as Record<string, unknown>).notes = 'short'
  await ctx.seed([conflict, immense])
  t.same(await mintInject(ctx.app, { sourceIdentifiers: [conflict.id, immense.id] }), { status: 200, body: { successes: [conflict.id, immense.id], failures: [] } })
  const final = await snapshot()
  t.same(final, minted, 'no ID changed')
  for (const w of [conflict, immense, good1, good2]) {
    const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, final.get(workKeys(w.work).root) as string)
    t.same(embeddedIdProblems(indexed, final), [], `${w.id} is indexed with the IDs minted on the first attempt`)
  }
  t.same(await db.orphans(), [])
})

t.test('documents of 5 to 20 MB, alone and together (Elasticsearch http.max_content_length is 100mb)', async (t) => {
  const ctx = await isolatedApp(t, 'es-large')
  await ctx.app.database.ready?.()
  const db = await directDatabase(t, ctx.config.IDENTIFIERS_DATABASE)
  const settings = await ctx.es.cluster.getSettings({ include_defaults: true, flat_settings: true })
  const limit = settings.persistent['http.max_content_length'] ?? settings.transient['http.max_content_length'] ?? settings.defaults?.['http.max_content_length']
  t.comment(`http.max_content_length on this cluster: ${limit}`)

  const large = (value: string, megabytes: number) => {
    const w = makeWork({ value, nested: 30 })
    // Varied text (not one repeated character) so nothing compresses it away anywhere.
    const chunk = createHash('sha256').update(value).digest('hex').repeat(32)
    ;(w.work.data as Record<string, unknown>).description = chunk.repeat(Math.ceil((megabytes * 1024 * 1024) / chunk.length))
    return w
  }
  for (const megabytes of [5, 20]) {
    await t.test(`one ${megabytes} MB work`, async (t) => {
      const w = large(`blarge${megabytes}`, megabytes)
      await ctx.seed([w])
      const started = Date.now()
      const answer = await within(mintInject(ctx.app, { sourceIdentifiers: [w.id] }), 60_000, `${megabytes} MB mint`)
      t.same(answer, { status: 200, body: { successes: [w.id], failures: [] } }, `minted in ${Date.now() - started} ms`)
      const mapping = new Map((await db.mappings()).map((r) => [rowKey(r), r.CanonicalId]))
      const indexed = await indexedDocument(ctx.es, ctx.config.es_identified_index, mapping.get(workKeys(w.work).root) as string)
      const description = (indexed?.data as Record<string, unknown> | undefined)?.description as string | undefined
      t.equal(description?.length, ((w.work.data as Record<string, unknown>).description as string).length, 'the large field is indexed whole')
      t.same(embeddedIdProblems(indexed, mapping), [], 'with every ID embedded')
    })
  }
  await t.test('five 5 MB works in one request (a 25 MB bulk)', async (t) => {
    const works = Array.from({ length: 5 }, (_, i) => large(`bbatch${i}`, 5))
    await ctx.seed(works.slice(0, 2))
    await ctx.seed(works.slice(2))
    const started = Date.now()
    const answer = await within(mintInject(ctx.app, { sourceIdentifiers: works.map((w) => w.id) }), 90_000, 'batch mint')
    t.same(answer, { status: 200, body: { successes: works.map((w) => w.id), failures: [] } }, `minted in ${Date.now() - started} ms`)
  })
})
