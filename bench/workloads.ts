import { makeWork } from '../fixtures/works.js'
import { keyOf, type IdentifierKey } from '../src/services/identifier-store/keys.js'
import { findIdentifiableNodes } from '../src/services/work-identifiers.js'

/** Works per POST /mint: the API's maximum. */
export const BATCH_SIZE = 100

export const WORKLOAD_NAMES = ['all-new', 'all-existing', 'mixed', 'large-fanout'] as const
export type WorkloadName = (typeof WORKLOAD_NAMES)[number]

type Role = 'new' | 'existing' | 'inheriting'

export interface Workload {
  name: WorkloadName
  description: string
  works: number
  quickWorks: number
  /** Identified nodes besides the root: every work carries 1 + nested identifiers. */
  nested: number
  /** What the database already knows about the i-th work before the run. */
  role(index: number): Role
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  'all-new': {
    name: 'all-new',
    description: '1000 works x 6 identifiers, none known: everything minted',
    works: 1000,
    quickWorks: 300,
    nested: 5,
    role: () => 'new',
  },
  'all-existing': {
    name: 'all-existing',
    description: 'the same works again, every identifier known: the pure lookup path',
    works: 1000,
    quickWorks: 300,
    nested: 5,
    role: () => 'existing',
  },
  mixed: {
    name: 'mixed',
    description: '1000 works x 6: roots 50% new, 40% known, 10% inheriting from an already-minted predecessor',
    works: 1000,
    quickWorks: 300,
    nested: 5,
    // Interleaved so that every batch of 100 has the same mix.
    role: (i) => (i % 10 < 5 ? 'new' : i % 10 < 9 ? 'existing' : 'inheriting'),
  },
  'large-fanout': {
    name: 'large-fanout',
    description: '200 works x 51 identifiers, none known',
    works: 200,
    quickWorks: 200,
    nested: 50,
    role: () => 'new',
  },
}

export interface SourceWork {
  id: string
  work: Record<string, unknown>
}

/** One pass over a workload: its works, how they are batched, and what must be known beforehand. */
export interface WorkloadPass {
  works: SourceWork[]
  batches: string[][]
  /** Keys to store as minted before the pass runs (existing works, predecessors). */
  known: IdentifierKey[]
  /** Every key the pass leaves in the database, known ones included. */
  allKeys: Set<string>
  /** Identifiers carried by the works (each work's root and nested nodes). */
  identifiers: number
}

/**
 * The works of one pass, deterministic in (workload, pass, count). Passes use disjoint values, so
 * several passes (a warm-up, then the measured iterations) can share one database and index.
 */
export function generatePass(workload: Workload, pass: number, count: number): WorkloadPass {
  const works: SourceWork[] = []
  const known: IdentifierKey[] = []
  const allKeys = new Set<string>()
  let identifiers = 0
  for (let i = 0; i < count; i++) {
    const value = `b${pass}-${String(i).padStart(6, '0')}`
    const role = workload.role(i)
    const predecessor = role === 'inheriting' ? { identifierType: 'sierra-system-number', value: `p${pass}-${String(i).padStart(6, '0')}` } : undefined
    const source = makeWork({ value, nested: workload.nested, ...(predecessor ? { predecessor } : {}) })
    const analysis = findIdentifiableNodes(source.work)
    if (!analysis.ok) throw new Error(`generated work ${source.id} is not identifiable: ${analysis.reason}`)
    for (const node of analysis.nodes) {
      allKeys.add(keyOf(node.key))
      if (role === 'existing') known.push(node.key)
      if (node.predecessor) {
        allKeys.add(keyOf(node.predecessor))
        known.push(node.predecessor)
      }
    }
    identifiers += analysis.nodes.length
    works.push(source)
  }
  const ids = works.map((w) => w.id)
  const batches: string[][] = []
  for (let i = 0; i < ids.length; i += BATCH_SIZE) batches.push(ids.slice(i, i + BATCH_SIZE))
  return { works, batches, known, allKeys, identifiers }
}
