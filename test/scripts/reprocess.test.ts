// `npm run reprocess` as an operator runs it: a child process with stdout a pipe (plain lines),
// against the real MariaDB and Elasticsearch. The expectations come from the works seeded here and
// from SQL counts of the identifiers table.
import t from 'tap'
import { adminConnection, setup } from '../helpers.js'
import { mintedValues, runCli, until, work } from './reprocess-cli.js'

const worksDone = (output: string) => Number(/this run: ([\d,]+) works/.exec(output)?.[1]?.replace(/,/g, ''))

t.test('npm run reprocess: Ctrl-C stops after the chunk in flight and prints --resume; resumed, every work is minted once', async (t) => {
  const ctx = await setup(t, 'cli-reprocess-resume')
  const works = Array.from({ length: 1200 }, (_, i) => work(`b${String(i).padStart(4, '0')}`, '2026-05-02T10:00:00Z'))
  await ctx.seed(works)
  const database = ctx.config.IDENTIFIERS_DATABASE

  // The run is stopped at a known place: the test holds, uncommitted, the mapping of one work, so
  // the chunk that mints it waits on that row's lock, with the chunks before it minted.
  const held = works[700] as (typeof works)[number]
  const blocker = await adminConnection()
  await blocker.query('BEGIN')
  await blocker.query(`INSERT INTO \`${database}\`.canonical_ids (CanonicalId, Status) VALUES ('zzzzzzzz', 'assigned')`)
  await blocker.query(`INSERT INTO \`${database}\`.identifiers (OntologyType, SourceSystem, SourceId, CanonicalId) VALUES ('Work', 'sierra-system-number', ?, 'zzzzzzzz')`, [held.value])
  // Waiting: a transaction of the run's in LOCK WAIT, or (should the server not say so) its insert
  // into identifiers still running after 2 s, where it takes milliseconds.
  const waiting = async () => {
    const rows = await ctx.sql<{ n: number }>(
      `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
        WHERE p.DB = ? AND (t.trx_state = 'LOCK WAIT' OR (p.INFO LIKE 'INSERT INTO \`identifiers\`%' AND p.TIME >= 2))`,
      [database],
    )
    return Number(rows[0]?.n) > 0
  }

  // The held chunk waits as long as the server lets it (innodb_lock_wait_timeout), not MINT_TIMEOUT_MS.
  const first = runCli(ctx, ['--full', '--slices', '2', '--job-id', 'cli-resume', '--local'], { MINT_TIMEOUT_MS: '120000' })
  await until('the reprocess to wait on the held mapping', waiting).catch(async (error: Error) => {
    first.child.kill('SIGKILL')
    const { stdout, stderr } = await first.exited
    throw new Error(`${error.message}; its output: ${stdout} ${stderr}`)
  })
  first.child.kill('SIGINT')
  await new Promise((resolve) => setTimeout(resolve, 300))
  await blocker.query('ROLLBACK')
  await blocker.end()
  const stopped = await first.exited
  t.equal(stopped.code, 130, 'Ctrl-C: exit code 130', { stdout: stopped.stdout, stderr: stopped.stderr })
  t.match(stopped.stdout, /^reprocessing all of t-source-cli-reprocess-resume-\w+: 1,200 works; 2 of 2 slices to go, 2 at a time; job cli-resume$/m)
  t.match(stopped.stdout, /stopped after the chunk in flight/)
  const resume = /^to carry on: npm run reprocess -- --resume (rr1\.\S+) --local$/m.exec(stopped.stdout)?.[1]
  t.type(resume, 'string', 'it prints the --resume command')
  const afterStop = await mintedValues(ctx)
  t.ok(afterStop.includes(held.value), 'the chunk in flight was finished, the held work in it')
  t.ok(afterStop.length < 1200, `stopped before the end: ${afterStop.length} minted`)
  t.equal(worksDone(stopped.stdout), afterStop.length, 'its summary counts what it minted')

  const second = await runCli(ctx, ['--resume', resume as string, '--local']).exited
  t.equal(second.code, 0, 'resumed and finished: exit code 0', { stdout: second.stdout, stderr: second.stderr })
  t.match(second.stdout, new RegExp(`^resuming all of .*: 1,200 works, ${afterStop.length.toLocaleString('en-GB')} done before;`, 'm'))
  t.match(second.stdout, /the job so far: 1,200 works processed, 1,200 minted, 0 failed/)
  t.equal(worksDone(stopped.stdout) + worksDone(second.stdout), 1200, 'the two runs processed each work once between them')
  t.same(await mintedValues(ctx), works.map((w) => w.value).sort())
})

t.test('npm run reprocess: a window, and a failing work in it (exit code 1, logged with the jobId)', async (t) => {
  const ctx = await setup(t, 'cli-reprocess-window')
  const broken = work('b-broken', '2026-05-02T10:05:00Z')
  ;(broken.work.state as Record<string, unknown>).sourceIdentifier = { ontologyType: 'Work', identifierType: { id: 'sierra-system-number' } }
  await ctx.seed([work('b-before', '2026-05-02T09:59:59.999Z'), work('b-in', '2026-05-02T10:00:00Z'), broken, work('b-end', '2026-05-02T10:15:00Z')])

  const run = await runCli(ctx, ['--start', '2026-05-02T10:00:00Z', '--end', '2026-05-02T10:15:00Z', '--job-id', 'cli-window', '--local']).exited
  t.equal(run.code, 1, 'finished with a failed work: exit code 1', { stdout: run.stdout })
  t.match(run.stdout, /the job so far: 2 works processed, 1 minted, 1 failed/)
  t.match(run.stdout, new RegExp(`failed: ${broken.id.replace(/[[\]/]/g, '\\$&')}: Failed to mint ID for .*: malformed sourceIdentifier at \\$\\.state\\.sourceIdentifier`))
  const logged = run.stderr.split('\n').filter(Boolean).map((line) => JSON.parse(line))
  t.match(logged, [{ msg: 'reprocess: work failed', jobId: 'cli-window', sourceIdentifier: broken.id }])
  t.same(await mintedValues(ctx), ['b-in'])
})
