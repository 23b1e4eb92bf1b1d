// Running `npm run reprocess` as an operator runs it, for test/scripts/reprocess*.test.ts.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { makeWork } from '../../fixtures/works.js'
import type { TestContext } from '../helpers.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

export const work = (value: string, indexedAt: string) => {
  const w = makeWork({ value })
  return { id: w.id, value, work: { ...w.work, indexed_at: indexedAt } as Record<string, unknown> }
}

/** Runs the script with the test's stores, stdout a pipe (plain lines); stdout and stderr kept apart. */
export function runCli(ctx: TestContext, args: string[], env: Record<string, string> = {}) {
  // node itself with tsx as a loader, not the tsx wrapper: the SIGINT must reach the reprocessing process.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/reprocess.ts', ...args], {
    cwd: root,
    env: {
      ...process.env,
      IDENTIFIERS_DATABASE: ctx.config.IDENTIFIERS_DATABASE,
      es_source_index: ctx.config.es_source_index,
      es_identified_index: ctx.config.es_identified_index,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })))
  return { child, exited }
}

export async function mintedValues(ctx: TestContext): Promise<string[]> {
  const rows = await ctx.sql<{ v: string }>("SELECT CAST(SourceId AS CHAR) AS v FROM identifiers WHERE OntologyType = 'Work' ORDER BY v")
  return rows.map((r) => r.v)
}

export async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await condition()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}
