// A read replica lags the primary by moments. A predecessor minted just now, not yet on the
// replica, must be found on the primary before its successor fails. The lag is real: the
// replica's only connection is held in a consistent snapshot taken before the predecessor was
// minted (REPEATABLE READ), so every look-up through it reads the past.
import t from 'tap'
import { makeWork } from '../../fixtures/works.js'
import { mint, setup } from '../helpers.js'

t.test('POST /mint: a successor whose predecessor is not yet on the replica inherits its canonical ID from the primary', async (t) => {
  const ctx = await setup(t, 'replica-lag', { cluster_url_readonly: '127.0.0.1', max_connections: '1' })
  const replica = ctx.app.database.replicaPool
  t.ok(replica, 'a replica pool, apart from the primary')
  const lagging = await replica!.getConnection()
  await lagging.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
  await lagging.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
  await lagging.query('SELECT COUNT(*) FROM identifiers')
  lagging.release() // back in the pool, its snapshot still open: the replica is behind from here on
  t.teardown(async () => {
    const connection = await replica!.getConnection()
    await connection.query('COMMIT')
    connection.release()
  })

  const predecessor = makeWork({ identifierType: 'calm-record-id', value: 'c-lag' })
  const successor = makeWork({ value: 'b-lag', predecessor: { identifierType: 'calm-record-id', value: 'c-lag' } })
  await ctx.seed([predecessor, successor])
  t.same((await mint(ctx.app, { sourceIdentifiers: [predecessor.id] })).body.successes, [predecessor.id])
  const [seen] = (await replica!.query("SELECT COUNT(*) AS n FROM identifiers WHERE SourceId = 'c-lag'")) as unknown as [Array<{ n: number }>]
  t.equal(Number(seen[0]?.n), 0, 'the replica does not have the predecessor yet')

  const { body } = await mint(ctx.app, { sourceIdentifiers: [successor.id] })
  t.same(body, { successes: [successor.id], failures: [] }, 'the successor succeeds, in the 200')
  const rows = await ctx.mappings()
  t.equal(rows.find((r) => r.SourceId === 'b-lag')?.CanonicalId, rows.find((r) => r.SourceId === 'c-lag')?.CanonicalId, 'with the predecessor canonical ID')
})
