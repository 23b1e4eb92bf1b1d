// `npm run reprocess` refuses bad arguments and configuration with exit code 2 and a message that
// names what is wrong, before it reads or mints anything.
import t from 'tap'
import { setup } from '../helpers.js'
import { mintedValues, runCli, work } from './reprocess-cli.js'

t.test('npm run reprocess: bad arguments and configuration stop it with exit code 2, before anything is minted', async (t) => {
  const ctx = await setup(t, 'cli-reprocess-arguments')
  await ctx.seed([work('b-1', '2026-05-02T10:00:00Z')])
  const cases: Array<[string[], RegExp, Record<string, string>?]> = [
    [['--full', '--start', '2026-05-02T10:00:00Z', '--local'], /either --start\/--end \(a window\) or --full/],
    [['--local'], /either --start\/--end \(a window\) or --full/],
    [['--ful', '--local'], /Unknown option '--ful'/],
    [['--start', 'yesterday', '--local'], /--start "yesterday" is not an ISO-8601 date-time/],
    // Date.parse alone would read 31 February as 3 March, and run another window than asked for.
    [['--start', '2026-02-31T10:00:00Z', '--end', '2026-03-04T00:00:00Z', '--local'], /--start "2026-02-31T10:00:00Z" is not an ISO-8601 date-time/],
    [['--start', '2026-05-02T11:00:00Z', '--end', '2026-05-02T10:00:00Z', '--local'], /--start \(2026-05-02T11:00:00.000Z\) must be before --end/],
    [['--full', '--slices', '0', '--local'], /--slices must be an integer from 1 to 1024/],
    [['--resume', 'rr1.nonsense', '--local'], /--resume takes the token a stopped run printed/],
    [['--resume', 'rr1.x', '--full', '--local'], /--resume carries on the run it came from/],
    // Without --local a variable the service needs stops the command, named.
    [['--full'], /Invalid configuration: cluster_url is required but not set \(for the local services of npm run services, add --local\)/, { cluster_url: '' }],
  ]
  // Three at a time: each is a node process starting tsx.
  for (let i = 0; i < cases.length; i += 3) {
    const batch = cases.slice(i, i + 3)
    const results = await Promise.all(batch.map(([args, , env]) => runCli(ctx, args, env).exited))
    for (const [j, { code, stderr }] of results.entries()) {
      const [args, message] = batch[j] as (typeof cases)[number]
      t.equal(code, 2, args.join(' '))
      t.match(stderr, message, args.join(' '))
    }
  }
  t.same(await mintedValues(ctx), [], 'nothing was minted')
})
