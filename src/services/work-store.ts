import { errors, type Client, type TransportRequestOptions } from '@elastic/elasticsearch'
import type { Deadline } from './deadline.js'
import { DependencyUnavailableError, describeError } from './errors.js'

export interface WorkStoreOptions {
  source: Client
  target: Client
  sourceIndex: string
  targetIndex: string
  /**
   * The most a bulk request may carry, in bytes of UTF-8 (BULK_MAX_BYTES; 10 MiB by default, the
   * http.max_content_length of small managed clusters). Works beyond it go in the next request.
   */
  maxBulkBytes?: number
  /** How long a successful check of the target index is trusted, in ms (see ensureTarget). */
  targetCheckTtlMs?: number
}

export type FetchedWork = { found: true; work: unknown } | { found: false; reason: string }

/** A work to index under its canonical ID; with a version, an older copy never replaces a newer one. */
export interface IndexedWork {
  id: string
  document: unknown
  /** Indexed with external_gte versioning when given: a higher version wins, an equal one re-indexes. */
  version?: number
}

export interface IndexOutcome {
  /** Per document id, Elasticsearch's reason for refusing it. */
  rejected: Map<string, string>
  /** Document ids the index already holds a newer version of (a version conflict): nothing was written. */
  superseded: Set<string>
}

export type WorkStore = ReturnType<typeof createWorkStore>

/**
 * Reads source works and writes identified ones. Every call takes the request's Deadline, which
 * bounds each Elasticsearch request (requestTimeout) and aborts it (AbortSignal) when the budget
 * runs out; anything that stops Elasticsearch answering is DependencyUnavailableError (a 503).
 */
export function createWorkStore({
  source,
  target,
  sourceIndex,
  targetIndex,
  maxBulkBytes = 10 * 1024 * 1024,
  targetCheckTtlMs = 10_000,
}: WorkStoreOptions) {
  const options = (deadline: Deadline, stage: string): TransportRequestOptions => ({
    requestTimeout: deadline.forStage('elasticsearch', stage),
    signal: deadline.signal,
  })

  /** Fetches the works by id in one round trip. */
  async function fetch(ids: string[], deadline: Deadline): Promise<Map<string, FetchedWork>> {
    const stage = `reading ${sourceIndex}`
    const response = await unavailableOnFailure(deadline, stage, () => source.mget<unknown>({ index: sourceIndex, ids }, options(deadline, stage)))
    const works = new Map<string, FetchedWork>()
    for (const doc of response.docs) {
      if ('error' in doc) {
        // A missing index is the deployment's problem, not the work's: callers should retry later.
        if (doc.error.type === 'index_not_found_exception') {
          throw new DependencyUnavailableError('elasticsearch', `Source index ${sourceIndex} does not exist`)
        }
        works.set(doc._id, { found: false, reason: `${sourceIndex} could not return it: ${doc.error.reason ?? doc.error.type}` })
      } else if (doc.found) {
        works.set(doc._id, { found: true, work: doc._source })
      } else {
        works.set(doc._id, { found: false, reason: `not found in ${sourceIndex}` })
      }
    }
    return works
  }

  let targetCheckedAt = Number.NEGATIVE_INFINITY

  /**
   * Writes go only to an identified index that exists with the pipeline's mappings: Elasticsearch
   * would otherwise create a misspelt or deleted index on the first write, with mappings of its own
   * making (dynamic), and answer as if nothing were wrong. The real index maps `dynamic: false`
   * (index-config/), an index Elasticsearch made up does not. A check that passed is trusted for
   * targetCheckTtlMs; set the cluster's action.auto_create_index to false to close even that window.
   */
  async function ensureTarget(deadline: Deadline): Promise<void> {
    if (performance.now() - targetCheckedAt < targetCheckTtlMs) return
    const stage = `checking ${targetIndex}`
    const mappings = await unavailableOnFailure(deadline, stage, () =>
      target.indices.getMapping({ index: targetIndex }, { ...options(deadline, stage), ignore: [404] }),
    )
    const found = Object.values(mappings as Record<string, { mappings?: { dynamic?: unknown } }>).filter((entry) => entry?.mappings)
    if (found.length === 0) throw new DependencyUnavailableError('elasticsearch', `Identified index ${targetIndex} does not exist: create it with index-config/ (nothing was written)`)
    for (const { mappings: m } of found) {
      if (String(m?.dynamic) !== 'false' && String(m?.dynamic) !== 'strict') {
        throw new DependencyUnavailableError(
          'elasticsearch',
          `Identified index ${targetIndex} does not have the identified index's mappings (dynamic is ${String(m?.dynamic ?? 'true')}, not false): nothing was written`,
        )
      }
    }
    targetCheckedAt = performance.now()
  }

  /**
   * Indexes identified works in one bulk call (more when they are larger than maxBulkBytes).
   * Returns the documents Elasticsearch refused, with its reason, and those it already holds a
   * newer version of.
   */
  async function index(documents: IndexedWork[], deadline: Deadline): Promise<IndexOutcome> {
    const outcome: IndexOutcome = { rejected: new Map(), superseded: new Set() }
    if (documents.length === 0) return outcome
    await ensureTarget(deadline)
    // Each work is serialised once, here: the same text decides the cut and is the request body
    // (a string the client sends as it is, with no second serialisation).
    const entries = documents.map(({ id, document, version }) => ({ id, text: `${indexAction}${JSON.stringify(id)}${versioned(version)}\n${JSON.stringify(document)}\n` }))
    for (const batch of batches(entries)) await sendBulk(batch, outcome, deadline)
    return outcome
  }

  /**
   * One bulk request. Elasticsearch refuses a request over its http.max_content_length with 413,
   * whatever maxBulkBytes says: the batch is then halved and each half sent, down to a single work,
   * which is that work's failure (not an outage: retrying would send the same bytes).
   */
  async function sendBulk(batch: Array<{ id: string; text: string }>, outcome: IndexOutcome, deadline: Deadline): Promise<void> {
    const stage = `writing ${targetIndex}`
    let response
    try {
      response = await unavailableOnFailure(deadline, stage, () =>
        // The client passes a string body through untouched (its types only name arrays).
        target.bulk<unknown>(
          { body: batch.map((entry) => entry.text).join('') as unknown as unknown[], filter_path: 'errors,items.*._id,items.*.error' },
          options(deadline, stage),
        ),
      )
    } catch (error) {
      const cause = error instanceof DependencyUnavailableError ? error.cause : error
      if (!(cause instanceof errors.ResponseError && cause.statusCode === 413)) throw error
      if (batch.length === 1) {
        const [only] = batch as [{ id: string; text: string }]
        outcome.rejected.set(only.id, `request_entity_too_large: the work (${Buffer.byteLength(only.text, 'utf8')} bytes) is over the target's http.max_content_length`)
        return
      }
      const half = Math.ceil(batch.length / 2)
      await sendBulk(batch.slice(0, half), outcome, deadline)
      await sendBulk(batch.slice(half), outcome, deadline)
      return
    }
    if (!response.errors) return
    for (const item of response.items) {
      const result = item.index
      if (!result?.error || !result._id) continue
      if (result.error.type === 'index_not_found_exception' || result.error.type === 'es_rejected_execution_exception') {
        throw new DependencyUnavailableError('elasticsearch', `Elasticsearch could not write to ${targetIndex}: ${result.error.reason}`)
      }
      if (result.error.type === 'version_conflict_engine_exception') outcome.superseded.add(result._id)
      else outcome.rejected.set(result._id, `${result.error.type}: ${result.error.reason ?? 'no reason given'}`)
    }
  }

  // {"index":{"_index":…,"_id":…[,"version":…,"version_type":"external_gte"]}}, the action line before each document.
  const indexAction = `{"index":{"_index":${JSON.stringify(targetIndex)},"_id":`
  const versioned = (version: number | undefined) => (version === undefined ? '}}' : `,"version":${version},"version_type":"external_gte"}}`)

  /**
   * The bulk requests: consecutive entries cut at maxBulkBytes of UTF-8, a work larger than that
   * alone. A UTF-16 code unit is at most 3 bytes of UTF-8, so sizes are measured only once a
   * request could come near the limit (never, for a request of ordinary works).
   */
  function batches<T extends { text: string }>(entries: T[]): T[][] {
    const result: T[][] = []
    let batch: T[] = []
    let units = 0
    /** The UTF-8 size of the batch, kept from the moment it could matter. */
    let bytes: number | undefined
    for (const entry of entries) {
      if (bytes === undefined && (units + entry.text.length) * 3 > maxBulkBytes) {
        bytes = batch.reduce((sum, e) => sum + Buffer.byteLength(e.text, 'utf8'), 0)
      }
      if (bytes !== undefined) {
        const size = Buffer.byteLength(entry.text, 'utf8')
        if (batch.length > 0 && bytes + size > maxBulkBytes) {
          result.push(batch)
          batch = []
          units = 0
          bytes = 0
        }
        bytes += size
      }
      batch.push(entry)
      units += entry.text.length
    }
    if (batch.length > 0) result.push(batch)
    return result
  }

  /** Resolves when the index answers (and, for the target, is the identified index); throws with the reason otherwise. */
  async function ping(which: 'source' | 'target', deadline: Deadline): Promise<void> {
    if (which === 'target') {
      targetCheckedAt = Number.NEGATIVE_INFINITY
      return ensureTarget(deadline)
    }
    const stage = `checking ${sourceIndex}`
    const exists = await unavailableOnFailure(deadline, stage, () => source.indices.exists({ index: sourceIndex }, { ...options(deadline, stage), maxRetries: 0 }))
    if (!exists) throw new DependencyUnavailableError('elasticsearch', `Source index ${sourceIndex} does not exist`)
  }

  return { fetch, index, ping, sourceIndex, targetIndex }
}

async function unavailableOnFailure<T>(deadline: Deadline, what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    if (error instanceof DependencyUnavailableError) throw error
    if (error instanceof errors.RequestAbortedError || (error instanceof errors.TimeoutError && deadline.remaining() < 1)) {
      throw deadline.spent('elasticsearch', what, error)
    }
    if (error instanceof errors.ResponseError && error.statusCode === 404) {
      throw new DependencyUnavailableError('elasticsearch', `Elasticsearch ${what}: index not found`, { cause: error })
    }
    throw new DependencyUnavailableError('elasticsearch', `Elasticsearch unavailable ${what}: ${describeError(error)}`, {
      cause: error,
    })
  }
}
