import { Client } from '@elastic/elasticsearch'
import { ensureIndex } from '../../fixtures/indices.js'
const es = new Client({ node: 'http://127.0.0.1:9200' })
for (let i = 0; i < 3; i++) {
  const t = performance.now()
  await Promise.all([ensureIndex(es, `bx-s-${i}`, 'source'), ensureIndex(es, `bx-t-${i}`, 'identified')])
  const t2 = performance.now()
  await es.indices.delete({ index: [`bx-s-${i}`, `bx-t-${i}`] })
  console.log('create', (t2 - t).toFixed(0), 'delete', (performance.now() - t2).toFixed(0))
}
