import type { Deadline } from './deadline.js'
import { parseDateTime } from './date-time.js'
import type { Assignment, IdentifierStore } from './identifier-store/store.js'
import { describeKey, type IdentifierKey } from './identifier-store/keys.js'
import { embedCanonicalIds, findIdentifiableNodes, type IdentifiableNode } from './work-identifiers.js'
import type { IndexedWork, WorkStore } from './work-store.js'

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

/**
 * A success whose copy is not the one the identified index holds: a newer copy of the work (a
 * later state.sourceModifiedTime) was indexed already, or another work of the same request
 * shares its root canonical ID and won. Its canonical IDs are stored all the same.
 */
export interface Superseded {
  sourceIdentifier: string
  canonicalId: string
  reason: string
}

/** What a mint did: the answer for the caller, and what the caller should log and count. */
export interface MintReport {
  result: MintResult
  superseded: Superseded[]
  /**
   * The canonical ID of each success's work (its root node's), by source identifier: what a
   * downstream notification carries. Works that share a root canonical ID share the entry's value.
   */
  canonicalIds: Map<string, string>
}

export interface MinterDependencies {
  identifiers: IdentifierStore
  works: WorkStore
}

export type Minter = ReturnType<typeof createMinter>

export function failureMessage(sourceIdentifier: string, reason: string): string {
  return `Failed to mint ID for ${sourceIdentifier}: ${reason}`
}

/**
 * The requested identifiers as POST /mint reads them: surrounding whitespace trimmed, repeats
 * dropped, in the order they were asked in. The minter itself takes ids exactly (reprocess hands
 * it the _ids a search returned, which may begin or end with a space) and only drops repeats.
 */
export function distinctIdentifiers(sourceIdentifiers: string[]): string[] {
  return [...new Set(sourceIdentifiers.map((id) => id.trim()))]
}

/**
 * The version a work is indexed with: the epoch milliseconds of state.sourceModifiedTime, so that
 * with external_gte an older copy never replaces a newer one (the existing pipeline's rule);
 * undefined when the work has no modified time. A modified time that is not a real ISO-8601
 * date-time from 1970 on is the work's problem: ordering its copies would be a guess.
 */
export function workVersion(work: Record<string, unknown>): { version?: number } | { reason: string } {
  const state = work.state
  const modified = typeof state === 'object' && state !== null ? (state as Record<string, unknown>).sourceModifiedTime : undefined
  if (modified === undefined || modified === null) return {}
  const millis = typeof modified === 'string' ? parseDateTime(modified) : undefined
  if (millis === undefined || millis < 0) {
    return { reason: `state.sourceModifiedTime ${JSON.stringify(modified)} is not an ISO-8601 date-time from 1970 on` }
  }
  return { version: millis }
}

interface PendingWork {
  id: string
  /** Position in the request: the later of two equal copies wins. */
  position: number
  work: Record<string, unknown>
  nodes: IdentifiableNode[]
  root: IdentifiableNode
  version?: number
}

/**
 * The minting orchestration. For each requested work: read it from the source index, find every
 * node that carries a sourceIdentifier, look up the canonical IDs already given, mint the rest,
 * embed them in the work and index it into the target index under its own canonical ID. One
 * work's problem fails that work only; an unreachable database or Elasticsearch fails the request
 * (DependencyUnavailableError) so the caller retries it whole.
 */
export function createMinter({ identifiers, works }: MinterDependencies) {
  /** Mints one request within the deadline's budget (see Deadline); past it, DependencyUnavailableError. */
  async function mint(request: MintRequest, deadline: Deadline): Promise<MintReport> {
    const requested = [...new Set(request.sourceIdentifiers)]
    const failed = new Map<string, string>()
    const fail = (id: string, reason: string) => failed.set(id, failureMessage(id, reason))

    // 1. Read every work in one round trip and find the nodes to identify.
    const fetched = await works.fetch(requested, deadline)
    const pending: PendingWork[] = []
    for (const [position, id] of requested.entries()) {
      const result = fetched.get(id) ?? { found: false as const, reason: `not found in ${works.sourceIndex}` }
      if (!result.found) {
        fail(id, result.reason)
        continue
      }
      const analysis = findIdentifiableNodes(result.work)
      if (!analysis.ok) {
        fail(id, analysis.reason)
        continue
      }
      const work = result.work as Record<string, unknown>
      const version = workVersion(work)
      if ('reason' in version) fail(id, version.reason)
      else pending.push({ id, position, work, nodes: analysis.nodes, root: analysis.root, ...version })
    }

    // 2. Look up every identifier and predecessor in the request at once.
    const keys = new Map<string, IdentifierKey>()
    const requestKeys = new Set<string>()
    for (const { nodes } of pending) {
      for (const node of nodes) {
        keys.set(node.keyId, node.key)
        requestKeys.add(node.keyId)
        if (node.predecessor) keys.set(node.predecessorKeyId as string, node.predecessor)
      }
    }
    const known = await identifiers.lookup([...keys.values()], deadline)
    // A predecessor minted moments ago may not have reached the read replica yet: a predecessor
    // the replica lacks is asked of the primary before it counts as unknown.
    const unseen = new Map<string, IdentifierKey>()
    for (const [keyId, key] of keys) if (!known.has(keyId) && !requestKeys.has(keyId)) unseen.set(keyId, key)
    if (unseen.size > 0) for (const [keyId, canonicalId] of await identifiers.confirmMissing([...unseen.values()], deadline)) known.set(keyId, canonicalId)

    // 3. Give each unknown identifier its predecessor's canonical ID, or a new one, all or nothing
    // per round. A predecessor that another work of this request mints is minted in an earlier
    // round, so its successor inherits from it as it would in a later request.
    const ready: PendingWork[] = []
    let waiting = pending
    while (waiting.length > 0) {
      const assignments = new Map<string, Assignment>()
      const deferred: PendingWork[] = []
      const planned: PendingWork[] = []
      // The identifiers that works still in play will mint: a predecessor among them is worth waiting for.
      const waitingKeys = new Set(waiting.flatMap((work) => work.nodes.map((node) => node.keyId)))
      let failedNow = 0
      for (const work of waiting) {
        const plan = planWork(work, known, waitingKeys)
        if (plan.kind === 'failed') {
          fail(work.id, plan.reason)
          failedNow++
        } else if (plan.kind === 'deferred') deferred.push(work)
        else {
          for (const assignment of plan.assignments) {
            // An inherited ID wins over a fresh one when works disagree about the same identifier.
            const existing = assignments.get(assignment.keyId as string)
            if (!existing || (existing.canonicalId === undefined && assignment.canonicalId !== undefined)) {
              assignments.set(assignment.keyId as string, assignment)
            }
          }
          planned.push(work)
        }
      }
      if (planned.length === 0 && failedNow === 0) {
        // Nothing left can go ahead: the remaining works are each other's predecessors.
        for (const work of deferred) fail(work.id, 'its predecessors, minted by other works of this request, are each waiting for the other')
        break
      }
      // 4. Store the new mappings, all or nothing, agreeing with any concurrent request.
      for (const [keyId, canonicalId] of await identifiers.assign([...assignments.values()], deadline)) known.set(keyId, canonicalId)
      ready.push(...planned)
      waiting = deferred
    }
    const canonicalIdOf = (node: IdentifiableNode) => known.get(node.keyId) as string

    // 5. Embed and index every ready work in one bulk call, under its root's canonical ID. Works
    // of one request that share a root canonical ID (a predecessor and its successor) are one
    // document: only the newest copy is sent (see newestCopies).
    const superseded: Superseded[] = []
    const documents: Array<IndexedWork & { sourceIdentifier: string }> = []
    for (const work of ready) {
      embedCanonicalIds(work.nodes, canonicalIdOf)
    }
    const { winners, losers } = newestCopies(ready, (work) => canonicalIdOf(work.root))

    for (const work of winners) {
      documents.push({ id: canonicalIdOf(work.root), document: work.work, sourceIdentifier: work.id, ...(work.version !== undefined ? { version: work.version } : {}) })
    }
    const outcome = await works.index(documents, deadline)
    // A copy that gave way to another of the same request succeeds only if that one was written
    // (or the index holds a newer copy still): otherwise nothing stands under its canonical ID.
    for (const { work, winner } of losers) {
      const canonicalId = canonicalIdOf(work.root)
      const reason = outcome.rejected.get(canonicalId)
      if (reason !== undefined) fail(work.id, `${winner.id}, the copy of the same work this request indexed instead, was rejected by ${works.targetIndex}: ${reason}`)
      else superseded.push({ sourceIdentifier: work.id, canonicalId, reason: `${winner.id} in the same request shares its canonical ID and is newer or its successor` })
    }
    for (const document of documents) {
      const reason = outcome.rejected.get(document.id)
      if (reason !== undefined) fail(document.sourceIdentifier, `rejected by ${works.targetIndex}: ${reason}`)
      else if (outcome.superseded.has(document.id)) {
        superseded.push({ sourceIdentifier: document.sourceIdentifier, canonicalId: document.id, reason: `${works.targetIndex} holds a newer copy (version ${document.version} is older)` })
      }
    }

    const result: MintResult = { successes: [], failures: [] }
    const rootIds = new Map(ready.map((work) => [work.id, canonicalIdOf(work.root)]))
    const canonicalIds = new Map<string, string>()
    for (const id of requested) {
      const error = failed.get(id)
      if (error === undefined) {
        result.successes.push(id)
        canonicalIds.set(id, rootIds.get(id) as string)
      } else result.failures.push({ sourceIdentifier: id, error })
    }
    if (request.jobId !== undefined) result.jobId = request.jobId
    return { result, superseded, canonicalIds }
  }

  return { mint }
}

type Plan =
  | { kind: 'ready'; assignments: Assignment[] }
  | { kind: 'deferred' }
  | { kind: 'failed'; reason: string }

/** What a work needs stored before it can be indexed, or why it must wait (for a round) or fail. */
function planWork(work: PendingWork, known: Map<string, string>, waitingKeys: Set<string>): Plan {
  const own = new Set(work.nodes.map((node) => node.keyId))
  const assignments: Assignment[] = []
  for (const node of work.nodes) {
    if (known.has(node.keyId)) continue
    if (!node.predecessor) {
      assignments.push({ key: node.key, keyId: node.keyId })
      continue
    }
    const inherited = known.get(node.predecessorKeyId as string)
    if (inherited !== undefined) {
      assignments.push({ key: node.key, keyId: node.keyId, canonicalId: inherited })
    } else if (waitingKeys.has(node.predecessorKeyId as string) && !own.has(node.predecessorKeyId as string)) {
      return { kind: 'deferred' }
    } else {
      return {
        kind: 'failed',
        reason: `predecessor ${describeKey(node.predecessor)} of ${describeKey(node.key)} at ${node.path} has no canonical ID`,
      }
    }
  }
  return { kind: 'ready', assignments }
}

/**
 * Of works that share a root canonical ID, the one copy to index: the newest by version (a copy
 * with no modified time counts as oldest), then the one whose root has a predecessor (it is the
 * record that replaced the other), then the later in the request. The same rule external_gte
 * versioning applies between requests, so the identified index ends up the same either way.
 */
function newestCopies(ready: PendingWork[], rootIdOf: (work: PendingWork) => string) {
  const byRoot = new Map<string, PendingWork>()
  const losers: Array<{ work: PendingWork; winner: PendingWork }> = []
  const rank = (w: PendingWork) => [w.version ?? -1, w.root.predecessor ? 1 : 0, w.position]
  const newer = (a: PendingWork, b: PendingWork) => {
    const [ra, rb] = [rank(a), rank(b)]
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return (ra[i] as number) > (rb[i] as number)
    return false
  }
  for (const work of ready) {
    const id = rootIdOf(work)
    const current = byRoot.get(id)
    if (!current) byRoot.set(id, work)
    else if (newer(work, current)) {
      losers.push({ work: current, winner: work })
      byRoot.set(id, work)
    } else losers.push({ work, winner: current })
  }
  // A loser's winner may itself have lost later: name the final one.
  for (const loss of losers) loss.winner = byRoot.get(rootIdOf(loss.work)) as PendingWork
  return { winners: ready.filter((work) => byRoot.get(rootIdOf(work)) === work), losers }
}
