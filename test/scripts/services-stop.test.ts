// `npm run services:stop` (scripts/services.sh stop) stops only what the script itself started:
// its own processes (by pid file) and the docker compose services it recorded bringing up. There
// is no Docker engine on the machines this suite runs on, so the script runs from a copy of the
// repository's layout in a temporary directory (its own .cache, no pid files: nothing of the
// machine's real services can be touched) with a `docker` on PATH that answers `docker info` and
// records every command it is given. What is checked is the script's own decision: which compose
// services it asks to stop.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repository = fileURLToPath(new URL('../..', import.meta.url))

function layout(t: Test, recorded: string[]) {
  const root = mkdtempSync(join(tmpdir(), 'id-minter-services-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'scripts'))
  copyFileSync(join(repository, 'scripts', 'services.sh'), join(root, 'scripts', 'services.sh'))
  copyFileSync(join(repository, 'docker-compose.yml'), join(root, 'docker-compose.yml'))
  mkdirSync(join(root, '.cache'))
  if (recorded.length > 0) writeFileSync(join(root, '.cache', 'compose-started'), recorded.map((s) => `${s}\n`).join(''))
  const bin = join(root, 'bin')
  mkdirSync(bin)
  const calls = join(root, 'docker-calls')
  writeFileSync(join(bin, 'docker'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexit 0\n`)
  chmodSync(join(bin, 'docker'), 0o755)
  const stop = () => {
    const run = spawnSync('bash', [join(root, 'scripts', 'services.sh'), 'stop'], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
      encoding: 'utf8',
      timeout: 60_000,
    })
    const composeCalls = existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((line) => line.startsWith('compose ')) : []
    return { run, composeCalls }
  }
  return { root, stop }
}

t.test('services.sh stop stops the compose services it recorded starting, and no other', async (t) => {
  const { root, stop } = layout(t, ['elasticmq'])
  const { run, composeCalls } = stop()
  t.equal(run.status, 0, run.stderr)
  t.same(
    composeCalls.map((call) => call.replace(/^compose -f \S+ /, '')),
    ['stop elasticmq'],
    'only the service it brought up: a mysql or elasticsearch someone else runs is left alone',
  )
  t.match(run.stderr, /database: not started by this script with docker compose; left running/)
  t.match(run.stderr, /elasticsearch: not started by this script/)
  t.notOk(existsSync(join(root, '.cache', 'compose-started')), 'the record is cleared once nothing it started is left')
})

t.test('services.sh stop with nothing recorded asks docker compose to stop nothing', async (t) => {
  const { stop } = layout(t, [])
  const { run, composeCalls } = stop()
  t.equal(run.status, 0, run.stderr)
  t.same(composeCalls, [], 'no compose service is stopped')
})
