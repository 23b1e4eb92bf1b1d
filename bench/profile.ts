import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'

/** Self time from V8 CPU profiles (node --cpu-prof), by function and by package. */

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

// The bench's own profiler calls (protocol.ts): the first sample's delta spans the start-up of the profiler.
const OWN = new Set(['profileStart', 'profileStop'])

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  file: string
  totalMs: number
  byFunction: Array<{ name: string; ms: number; share: number }>
  byPackage: Array<{ name: string; ms: number; share: number }>
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return 'node'
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (inModules) return inModules[1] as string
  if (url.includes('/bench/results/.build/')) return 'src + bench (bundled)'
  return basename(url)
}

function top(totals: Map<string, number>, totalMs: number, count: number) {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / 1000 / totalMs }))
}

export function summariseProfile(file: string, count = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parents = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)
  const own = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      if (OWN.has(nodes.get(at)?.callFrame.functionName ?? '')) return true
    }
    return false
  }
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = nodes.get(id)
    const delta = profile.timeDeltas[i] ?? 0
    if (!node || node.callFrame.functionName === '(idle)' || own(id)) return
    const { functionName, url, lineNumber } = node.callFrame
    const where = url ? `${basename(url)}:${lineNumber + 1}` : ''
    const name = `${functionName || '(anonymous)'} ${where}`.trim()
    byFunction.set(name, (byFunction.get(name) ?? 0) + delta)
    const pkg = packageOf(url, functionName)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta)
    total += delta
  })
  const totalMs = total / 1000
  return { file, totalMs, byFunction: top(byFunction, totalMs, count), byPackage: top(byPackage, totalMs, count) }
}

export function summariseProfiles(dir: string, count?: number): ProfileSummary[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort()
    .map((name) => summariseProfile(join(dir, name), count))
}

export function renderProfile(summary: ProfileSummary): string {
  const rows = (entries: ProfileSummary['byFunction']) =>
    entries.map((e) => `  ${e.ms.toFixed(0).padStart(7)} ms ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.name}`).join('\n')
  return [
    `${basename(summary.file)}: ${summary.totalMs.toFixed(0)} ms on CPU (idle excluded)`,
    ' by package:',
    rows(summary.byPackage),
    ' by function (self time):',
    rows(summary.byFunction),
  ].join('\n')
}

// `tsx bench/profile.ts DIR_OR_FILE...`: summarise profiles written with --profile.
if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  for (const target of process.argv.slice(2)) {
    const summaries = target.endsWith('.cpuprofile') ? [summariseProfile(target, 25)] : summariseProfiles(target, 25)
    for (const summary of summaries) process.stdout.write(`${renderProfile(summary)}\n\n`)
  }
}
