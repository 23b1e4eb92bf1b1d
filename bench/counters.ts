import type { Admin } from './environment.js'

/**
 * Server-side counters. MariaDB: SHOW GLOBAL STATUS. `Questions` counts the statements clients
 * send (text-protocol queries and prepared-statement executions), each one round trip; prepares
 * (Com_stmt_prepare) are round trips that Questions leaves out, so round trips = Questions +
 * Com_stmt_prepare. Elasticsearch: the per-route request counts of GET _nodes/_local/stats/http.
 * Both are global to their server: the bench subtracts its own status queries, and cross-checks
 * the totals with what the measured process counted itself, to show when something else was busy.
 */

const STATUS = ['Questions', 'Com_select', 'Com_insert', 'Com_begin', 'Com_commit', 'Com_rollback', 'Com_set_option', 'Com_stmt_prepare'] as const
type StatusName = (typeof STATUS)[number]

// The route of the bench's own stats request: never part of a workload.
const OWN_ROUTE = '/_nodes/{nodeId}/stats/{metric}'

export interface Snapshot {
  sql: Record<StatusName, number>
  esRoutes: Record<string, number>
}

export interface CounterDelta {
  /** Statements (Questions) the measured process sent, the bench's own subtracted. */
  statements: number
  roundTrips: number
  select: number
  insert: number
  begin: number
  commit: number
  rollback: number
  set: number
  esRequests: number
  /** Per route, e.g. { "/{index}/_mget": 10, "/_bulk": 10 }. */
  esRoutes: Record<string, number>
}

export class ServerCounters {
  /** Questions each status query adds between two snapshots: measured, not assumed. */
  private ownQuestions = 1

  constructor(private readonly admin: Admin) {}

  async calibrate(): Promise<void> {
    const samples: number[] = []
    let previous = await this.snapshot()
    for (let i = 0; i < 3; i++) {
      const next = await this.snapshot()
      samples.push(next.sql.Questions - previous.sql.Questions)
      previous = next
    }
    this.ownQuestions = Math.min(...samples)
  }

  async snapshot(): Promise<Snapshot> {
    const [rows] = await this.admin.sql.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${STATUS.map((s) => `'${s}'`).join(',')})`)
    const sql = Object.fromEntries(STATUS.map((name) => [name, 0])) as Record<StatusName, number>
    for (const row of rows as Array<{ Variable_name: string; Value: string }>) sql[row.Variable_name as StatusName] = Number(row.Value)
    const stats = (await this.admin.es.nodes.stats({
      node_id: '_local',
      metric: 'http',
      filter_path: 'nodes.*.http.routes.*.requests.count',
    })) as unknown as { nodes: Record<string, { http?: { routes?: Record<string, { requests: { count: number } }> } }> }
    const esRoutes: Record<string, number> = {}
    for (const node of Object.values(stats.nodes)) {
      for (const [route, { requests }] of Object.entries(node.http?.routes ?? {})) {
        if (route !== OWN_ROUTE) esRoutes[route] = (esRoutes[route] ?? 0) + requests.count
      }
    }
    return { sql, esRoutes }
  }

  delta(before: Snapshot, after: Snapshot): CounterDelta {
    const d = (name: StatusName) => after.sql[name] - before.sql[name]
    const statements = d('Questions') - this.ownQuestions
    const esRoutes: Record<string, number> = {}
    for (const [route, count] of Object.entries(after.esRoutes)) {
      const n = count - (before.esRoutes[route] ?? 0)
      if (n > 0) esRoutes[route] = n
    }
    return {
      statements,
      roundTrips: statements + d('Com_stmt_prepare'),
      select: d('Com_select'),
      insert: d('Com_insert'),
      begin: d('Com_begin'),
      commit: d('Com_commit'),
      rollback: d('Com_rollback'),
      set: d('Com_set_option'),
      esRequests: Object.values(esRoutes).reduce((a, b) => a + b, 0),
      esRoutes,
    }
  }
}

export function addDeltas(a: CounterDelta, b: CounterDelta): CounterDelta {
  const esRoutes = { ...a.esRoutes }
  for (const [route, n] of Object.entries(b.esRoutes)) esRoutes[route] = (esRoutes[route] ?? 0) + n
  return {
    statements: a.statements + b.statements,
    roundTrips: a.roundTrips + b.roundTrips,
    select: a.select + b.select,
    insert: a.insert + b.insert,
    begin: a.begin + b.begin,
    commit: a.commit + b.commit,
    rollback: a.rollback + b.rollback,
    set: a.set + b.set,
    esRequests: a.esRequests + b.esRequests,
    esRoutes,
  }
}
