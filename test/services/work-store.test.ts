import t, { type Test } from 'tap'
import { Deadline } from '../../src/services/deadline.js'
import { createWorkStore } from '../../src/services/work-store.js'
import { esClient, isolatedConfig, prepareStores } from '../helpers.js'

/** Stores of the test's own, and a target client that records the UTF-8 size of every bulk body it sends. */
async function recordingStores(t: Test, name: string) {
  const config = isolatedConfig(name)
  const es = await prepareStores(t, config)
  const target = esClient()
  t.teardown(() => target.close())
  const sent: number[] = []
  target.diagnostic.on('request', (_error, event) => {
    const params = event?.meta.request.params
    if (params?.path === '/_bulk' && params.body !== undefined) sent.push(Buffer.byteLength(params.body as string, 'utf8'))
  })
  const store = (maxBulkBytes?: number) =>
    createWorkStore({ source: es, target, sourceIndex: config.es_source_index, targetIndex: config.es_identified_index, ...(maxBulkBytes ? { maxBulkBytes } : {}) })
  return { config, es, sent, store }
}

// Bulk requests are cut at maxBulkBytes of UTF-8, whatever the characters: each request the
// client sends is counted and measured as Elasticsearch receives it.
t.test('bulk bodies are cut at maxBulkBytes of UTF-8, every work indexed once', async (t) => {
  const { config, es, sent, store: storeWith } = await recordingStores(t, 'work-store-bulk')
  // About three of the works below (2 203 bytes each) per request.
  const maxBulkBytes = 7000
  const store = storeWith(maxBulkBytes)

  // 1 200 characters of 3 and 4 UTF-8 bytes: the code-unit count alone would misjudge the size.
  const title = (i: number) => `${'€'.repeat(300)}${'😀'.repeat(150)}${'ü'.repeat(300)}${i}`
  const documents = Array.from({ length: 12 }, (_, i) => ({ id: `w${i}`, document: { canonicalId: `w${i}`, title: title(i) } }))
  const outcome = await store.index(documents, new Deadline(30_000))

  t.same([...outcome.rejected, ...outcome.superseded], [], 'nothing rejected or superseded')
  t.ok(sent.length > 1, `${sent.length} bulk requests`)
  t.ok(sent.every((bytes) => bytes <= maxBulkBytes), `each at most ${maxBulkBytes} bytes: ${sent.join(', ')}`)
  const entryBytes = Buffer.byteLength(`{"index":{"_index":${JSON.stringify(config.es_identified_index)},"_id":"w0"}}\n${JSON.stringify(documents[0]!.document)}\n`)
  t.equal(sent.length, Math.ceil(12 / Math.floor(maxBulkBytes / entryBytes)), 'as few requests as the limit allows')

  sent.length = 0
  t.same([...(await storeWith().index(documents, new Deadline(30_000))).rejected], [])
  t.equal(sent.length, 1, 'under the default limit (10 MiB) the same works go in one request')

  await es.indices.refresh({ index: config.es_identified_index })
  const stored = await es.mget<{ title: string }>({ index: config.es_identified_index, ids: documents.map((d) => d.id) })
  t.same(
    stored.docs.map((d) => ('found' in d && d.found ? d._source?.title : undefined)),
    documents.map((d) => d.document.title),
    'every work is stored, its text intact',
  )
})

t.test('a single work over the limit is sent alone, and the others are not held back', async (t) => {
  const { sent: bodies, store: storeWith } = await recordingStores(t, 'work-store-large')
  const store = storeWith(1000)
  const outcome = await store.index([
    { id: 'small-1', document: { title: 'a' } },
    { id: 'large', document: { title: 'é'.repeat(2000) } },
    { id: 'small-2', document: { title: 'b' } },
  ], new Deadline(30_000))
  t.same([...outcome.rejected], [])
  t.equal(bodies.length, 3, 'small, large, small: the large work is never batched with another')
  t.ok(bodies[1]! > 4000, 'the large work goes whole')
})
