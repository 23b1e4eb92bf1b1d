// Every app built and closed (tests, the benchmark, a Lambda container's lifetime) must leave no
// monitor running: prom-client's process metrics enable an event-loop-delay monitor that nothing
// can disable, so they are collected once per process, whatever the number of apps.
import t from 'tap'
import perfHooks from 'node:perf_hooks'
import { buildApp } from '../../src/app.js'
import { isolatedConfig } from '../helpers.js'

t.test('buildApp and close, five times: one event-loop monitor for the process, and each app serves the process metrics', async (t) => {
  const original = perfHooks.monitorEventLoopDelay
  let monitors = 0
  perfHooks.monitorEventLoopDelay = ((options) => {
    monitors++
    return original(options)
  }) as typeof original
  t.teardown(() => {
    perfHooks.monitorEventLoopDelay = original
  })
  for (let i = 0; i < 5; i++) {
    const app = await buildApp(isolatedConfig('metrics-lifecycle', { APPLY_MIGRATIONS: 'false' }))
    const metrics = await app.inject({ method: 'GET', url: '/metrics' })
    t.match(metrics.body, /^nodejs_eventloop_lag_seconds /m, `app ${i + 1} serves the event loop lag`)
    t.match(metrics.body, /^id_minter_superseded_total 0$/m, 'and its own metrics')
    await app.close()
  }
  t.ok(monitors <= 1, `${monitors} monitor(s) enabled for five apps`)
})
