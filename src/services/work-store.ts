import { errors, type Client, type TransportRequestOptions } from '@elastic/elasticsearch'
import type { Deadline } from './deadline.js'
import { DependencyUnavailableError, describeError, InvalidCursorError, PointInTimeExpiredError } from './errors.js'

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

/** Bulk item errors that are about the index, not the document: the request is a 503, the work not at fault. */
const INDEX_UNAVAILABLE = new Set(['index_not_found_exception', 'es_rejected_execution_exception', 'cluster_block_exception', 'index_closed_exception'])

/** Index settings that refuse writes (index.blocks.*). */
const WRITE_BLOCKS = ['write', 'read_only', 'read_only_allow_delete']

/** The source index's ingest timestamp (a `date` in index-config/): what a reprocess window selects on. */
export const INDEXED_AT = 'indexed_at'

/** One page of a point-in-time read (PageRequest): the works' ids, in the point in time's order. */
export interface PointInTimePage {
  /** The point in time's id to send next: Elasticsearch may answer a new one to any search, and the latest is the one to use. */
  pointInTime: string
  /** Each work's source index id and its sort values (the search_after that reads on from it). */
  hits: Array<{ id: string; sort: unknown[] }>
}

/** What to read of a point in time, and from where. */
export interface PageRequest {
  /** The id of a point in time on the source index (openPointInTime). */
  pointInTime: string
  /** How long the point in time is kept after this search, as an Elasticsearch time value ("10m"). */
  keepAlive: string
  /** Only works whose indexed_at lies in [start, end), both epoch milliseconds; every work when absent. */
  window?: { start: number; end: number }
  /** Elasticsearch sliced search, slice `id` of `max` (0 <= id < max); a max of 1 reads everything. */
  slice?: { id: number; max: number }
  /** The sort values of the last work already read: the page starts after it; at the beginning when absent. */
  searchAfter?: unknown[]
  /** Works per page. */
  size: number
}

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
    // Open, and taking writes: a closed index or a write block (a full disk's flood stage sets
    // read_only_allow_delete) would refuse every work.
    const settings = await unavailableOnFailure(deadline, stage, () =>
      target.indices.getSettings({ index: targetIndex, expand_wildcards: 'all', filter_path: '*.settings.index.blocks,*.settings.index.verified_before_close' }, options(deadline, stage)),
    )
    const states = await unavailableOnFailure(deadline, stage, () =>
      target.cat.indices({ index: targetIndex, expand_wildcards: 'all', h: 'index,status', format: 'json' }, options(deadline, stage)),
    )
    const closed = (states as Array<{ index?: string; status?: string }>).filter((row) => row.status !== 'open').map((row) => row.index)
    if (closed.length > 0) throw new DependencyUnavailableError('elasticsearch', `Identified index ${targetIndex} is closed: nothing was written`)
    for (const entry of Object.values(settings as Record<string, { settings?: { index?: { blocks?: Record<string, unknown> } } }>)) {
      const blocks = entry?.settings?.index?.blocks ?? {}
      const set = WRITE_BLOCKS.filter((block) => String(blocks[block]) === 'true')
      if (set.length > 0) throw new DependencyUnavailableError('elasticsearch', `Identified index ${targetIndex} refuses writes (index.blocks.${set.join(', index.blocks.')}): nothing was written`)
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
      // The index, not the work: missing, closed, blocked (a full disk's flood stage, a write
      // block) or overloaded. Retrying the request later is the remedy, not failing the work.
      if (INDEX_UNAVAILABLE.has(result.error.type)) {
        throw new DependencyUnavailableError('elasticsearch', `Elasticsearch could not write to ${targetIndex}: ${result.error.type}: ${result.error.reason}`)
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

  /**
   * Opens a point in time on the source index: a view of it as it is now, which the pages of a
   * reprocess read, whatever is indexed meanwhile. Elasticsearch keeps it for `keepAlive` (a time
   * value, "10m") after it is opened and after each search that uses it. Returns its id.
   */
  async function openPointInTime(keepAlive: string, deadline: Deadline): Promise<string> {
    const stage = `opening a point in time on ${sourceIndex}`
    const response = await unavailableOnFailure(deadline, stage, () => source.openPointInTime({ index: sourceIndex, keep_alive: keepAlive }, options(deadline, stage)))
    return response.id
  }

  /**
   * One page of works from a point in time, sorted by _shard_doc (the cheapest order, and the one
   * sliced search splits on), ids only: the minter reads each work itself. Never from/size or
   * scroll. A point in time that has expired or was closed is PointInTimeExpiredError; a point in
   * time or search position Elasticsearch refuses (400) is InvalidCursorError; a shard that fails
   * fails the page (allow_partial_search_results is off), so no work is ever skipped silently.
   */
  async function readPage(request: PageRequest, deadline: Deadline): Promise<PointInTimePage> {
    const stage = `reading a page of ${sourceIndex}`
    const { window, slice } = request
    let response
    try {
      response = await unavailableOnFailure(deadline, stage, () =>
        source.search<unknown>(
          {
            pit: { id: request.pointInTime, keep_alive: request.keepAlive },
            size: request.size,
            sort: ['_shard_doc'],
            _source: false,
            track_total_hits: false,
            allow_partial_search_results: false,
            filter_path: ['pit_id', 'hits.hits._id', 'hits.hits.sort', '_shards.failed'],
            ...(window ? { query: windowQuery(window) } : {}),
            // Elasticsearch refuses a slice of max 1: that is the whole selection.
            ...(slice && slice.max > 1 ? { slice: { id: slice.id, max: slice.max } } : {}),
            ...(request.searchAfter ? { search_after: request.searchAfter as never } : {}),
          },
          options(deadline, stage),
        ),
      )
    } catch (error) {
      const cause = error instanceof DependencyUnavailableError ? error.cause : undefined
      if (cause instanceof errors.ResponseError) {
        if (JSON.stringify(cause.body ?? '').includes('search_context_missing_exception')) {
          throw new PointInTimeExpiredError(`The point in time on ${sourceIndex} has expired or was closed (it is kept ${request.keepAlive} after each search): start again without a cursor`, { cause })
        }
        if (cause.statusCode === 400) throw new InvalidCursorError(`Elasticsearch refused the point in time or search position: ${describeError(cause)}`, { cause })
      }
      throw error
    }
    if ((response._shards?.failed ?? 0) > 0) throw new DependencyUnavailableError('elasticsearch', `Elasticsearch ${stage}: ${response._shards.failed} shards failed`)
    const hits = (response.hits?.hits ?? []).map((hit) => ({ id: hit._id as string, sort: hit.sort as unknown[] }))
    return { pointInTime: response.pit_id ?? request.pointInTime, hits }
  }

  /** Closes a point in time; one that has expired already is not an error. */
  async function closePointInTime(pointInTime: string, deadline: Deadline): Promise<void> {
    const stage = `closing a point in time on ${sourceIndex}`
    await unavailableOnFailure(deadline, stage, () => source.closePointInTime({ id: pointInTime }, { ...options(deadline, stage), ignore: [404] }))
  }

  /** How many works of the source index lie in the window ([start, end) of indexed_at, epoch ms), or in all of it. */
  async function countWorks(window: { start: number; end: number } | undefined, deadline: Deadline): Promise<number> {
    const stage = `counting works in ${sourceIndex}`
    const response = await unavailableOnFailure(deadline, stage, () =>
      source.count(
        { index: sourceIndex, ...(window ? { query: windowQuery(window) } : {}) },
        options(deadline, stage),
      ),
    )
    return response.count
  }

  return { fetch, index, ping, openPointInTime, readPage, closePointInTime, countWorks, sourceIndex, targetIndex }
}

/** The works whose indexed_at lies in [start, end), both epoch milliseconds (a filter: nothing is scored). */
function windowQuery(window: { start: number; end: number }) {
  return { bool: { filter: [{ range: { [INDEXED_AT]: { gte: window.start, lt: window.end, format: 'epoch_millis' } } }] } }
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
