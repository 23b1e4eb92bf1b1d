import type { Assignment, IdentifierStore } from './identifier-store/store.js'
import { describeKey, type IdentifierKey } from './identifier-store/keys.js'
import { embedCanonicalIds, findIdentifiableNodes, type IdentifiableNode } from './work-identifiers.js'
import type { WorkStore } from './work-store.js'

export interface MintRequest {
  sourceIdentifiers: string[]
  jobId?: string
}

export interface MintFailure {
  sourceIdentifier: string
  error: string
}

export interface MintResult {
  successes: string[]
  failures: MintFailure[]
  jobId?: string
}

export interface MinterDependencies {
  identifiers: IdentifierStore
  works: WorkStore
}

export type Minter = ReturnType<typeof createMinter>

export function failureMessage(sourceIdentifier: string, reason: string): string {
  return `Failed to mint ID for ${sourceIdentifier}: ${reason}`
}

/** Trims the requested identifiers and drops repeats, keeping the order they were asked in. */
export function distinctIdentifiers(sourceIdentifiers: string[]): string[] {
  return [...new Set(sourceIdentifiers.map((id) => id.trim()))]
}

interface PendingWork {
  id: string
  work: unknown
  nodes: IdentifiableNode[]
  root: IdentifiableNode
}

/**
 * The minting orchestration. For each requested work: read it from the source index, find every
 * node that carries a sourceIdentifier, look up the canonical IDs already given, mint the rest in
 * one transaction, embed them in the work and index it into the target index under its own
 * canonical ID. One work's problem fails that work only; an unreachable database or Elasticsearch
 * fails the request (DependencyUnavailableError) so the caller retries it whole.
 */
export function createMinter({ identifiers, works }: MinterDependencies) {
  async function mint(request: MintRequest): Promise<MintResult> {
    const requested = distinctIdentifiers(request.sourceIdentifiers)
    const failed = new Map<string, string>()
    const fail = (id: string, reason: string) => failed.set(id, failureMessage(id, reason))

    // 1. Read every work in one round trip and find the nodes to identify.
    const fetched = await works.fetch(requested)
    const pending: PendingWork[] = []
    for (const id of requested) {
      const result = fetched.get(id) ?? { found: false as const, reason: `not found in ${works.sourceIndex}` }
      if (!result.found) {
        fail(id, result.reason)
        continue
      }
      const analysis = findIdentifiableNodes(result.work)
      if (analysis.ok) pending.push({ id, work: result.work, nodes: analysis.nodes, root: analysis.root })
      else fail(id, analysis.reason)
    }

    // 2. Look up every identifier and predecessor in the request at once.
    const keys = new Map<string, IdentifierKey>()
    for (const { nodes } of pending) {
      for (const node of nodes) {
        keys.set(node.keyId, node.key)
        if (node.predecessor) keys.set(node.predecessorKeyId as string, node.predecessor)
      }
    }
    const known = await identifiers.lookup([...keys.values()])

    // 3. Decide what each unknown identifier gets: its predecessor's canonical ID, or a new one.
    const assignments = new Map<string, Assignment>()
    const ready: PendingWork[] = []
    for (const work of pending) {
      const workAssignments: Assignment[] = []
      let missingPredecessor: IdentifiableNode | undefined
      for (const node of work.nodes) {
        if (known.has(node.keyId)) continue
        if (node.predecessor) {
          const inherited = known.get(node.predecessorKeyId as string)
          if (inherited === undefined) {
            missingPredecessor = node
            break
          }
          workAssignments.push({ key: node.key, keyId: node.keyId, canonicalId: inherited })
        } else {
          workAssignments.push({ key: node.key, keyId: node.keyId })
        }
      }
      if (missingPredecessor?.predecessor) {
        fail(
          work.id,
          `predecessor ${describeKey(missingPredecessor.predecessor)} of ${describeKey(missingPredecessor.key)} at ${missingPredecessor.path} has no canonical ID`,
        )
        continue
      }
      for (const assignment of workAssignments) {
        // An inherited ID wins over a fresh one when works disagree about the same identifier.
        const existing = assignments.get(assignment.keyId as string)
        if (!existing || (existing.canonicalId === undefined && assignment.canonicalId !== undefined)) {
          assignments.set(assignment.keyId as string, assignment)
        }
      }
      ready.push(work)
    }

    // 4. Store the new mappings, all or nothing, agreeing with any concurrent request.
    const assigned = await identifiers.assign([...assignments.values()])
    const canonicalIdOf = (node: IdentifiableNode) => (known.get(node.keyId) ?? assigned.get(node.keyId)) as string

    // 5. Embed and index every ready work in one bulk call, under its root's canonical ID.
    const documents = ready.map((work) => {
      embedCanonicalIds(work.nodes, canonicalIdOf)
      return { id: canonicalIdOf(work.root), document: work.work, sourceIdentifier: work.id }
    })
    const rejected = await works.index(documents)
    for (const document of documents) {
      const reason = rejected.get(document.id)
      if (reason !== undefined) fail(document.sourceIdentifier, `rejected by ${works.targetIndex}: ${reason}`)
    }

    const result: MintResult = { successes: [], failures: [] }
    for (const id of requested) {
      const error = failed.get(id)
      if (error === undefined) result.successes.push(id)
      else result.failures.push({ sourceIdentifier: id, error })
    }
    if (request.jobId !== undefined) result.jobId = request.jobId
    return result
  }

  return { mint }
}
