/**
 * A cluster whose front end refuses requests over a size (small managed clusters: 10 MiB) answers
 * a bulk request of several works with 413. The request is halved until it fits; only a single
 * work over the limit fails, as that work's failure. The limit sits in a loopback HTTP forwarder in
 * front of the real Elasticsearch, where such clusters enforce it.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { makeWork } from '../../fixtures/works.js'
import { isolatedApp, mintInject } from './support.js'

/** Forwards to Elasticsearch on 9200, answering 413 to any request body over maxBytes; counts what it refused and passed. */
async function sizeLimitedElasticsearch(maxBytes: number) {
  const counts = { refused: 0, bulks: 0 }
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks)
      if (body.length > maxBytes) {
        counts.refused++
        response.writeHead(413, { 'content-type': 'application/json' }).end('{"message":"Request size exceeded 20000 bytes"}')
        return
      }
      if (request.url?.startsWith('/_bulk')) counts.bulks++
      const upstream = http.request({ host: '127.0.0.1', port: 9200, method: request.method, path: request.url, headers: { ...request.headers, 'content-length': String(body.length) } }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(response)
      })
      upstream.on('error', () => response.destroy())
      upstream.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, counts, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

t.test('POST /mint: a 413 on a bulk of several works splits it; only the work that is alone too large fails', async (t) => {
  const front = await sizeLimitedElasticsearch(20_000)
  t.teardown(() => front.close())
  // The service's own cut (BULK_MAX_BYTES) is far above the front end's limit: only 413 says so.
  const ctx = await isolatedApp(t, 'bulk-413', { es_downstream_port: String(front.port), BULK_MAX_BYTES: '10485760' })
  await ctx.app.database.ready?.()
  const works = Array.from({ length: 12 }, (_, i) => makeWork({ value: `b413-${i}`, nested: 2, title: `${'x'.repeat(3000)} ${i}` }))
  const huge = makeWork({ value: 'b413-huge', title: 'y'.repeat(30_000) })
  await ctx.seed([...works, huge])

  const answer = await mintInject(ctx.app, { sourceIdentifiers: [...works.map((w) => w.id), huge.id] })
  t.equal(answer.status, 200, 'not a 503: the cluster is up, the requests were too large')
  t.same(answer.body.successes, works.map((w) => w.id), 'every work that fits alone is indexed')
  t.match(answer.body.failures, [{ sourceIdentifier: huge.id, error: /request_entity_too_large: the work \(\d+ bytes\) is over the target's http\.max_content_length/ }])
  t.ok(front.counts.refused >= 2, `the front end refused ${front.counts.refused} requests, each then halved`)

  await ctx.es.indices.refresh({ index: ctx.config.es_identified_index })
  const { count } = await ctx.es.count({ index: ctx.config.es_identified_index })
  t.equal(count, works.length, 'each fitting work indexed once')
})
