import { errors, type Client } from '@elastic/elasticsearch'
import { DependencyUnavailableError, describeError } from './errors.js'

export interface WorkStoreOptions {
  source: Client
  target: Client
  sourceIndex: string
  targetIndex: string
  /** The most a bulk request may carry; works beyond it go in the next one. */
  maxBulkBytes?: number
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

/** Reads source works and writes identified ones; anything that stops Elasticsearch answering is a 503. */
export function createWorkStore({ source, target, sourceIndex, targetIndex, maxBulkBytes = 16 * 1024 * 1024 }: WorkStoreOptions) {
  /** Fetches the works by id in one round trip. */
  async function fetch(ids: string[]): Promise<Map<string, FetchedWork>> {
    const response = await unavailableOnFailure(`reading ${sourceIndex}`, () =>
      source.mget<unknown>({ index: sourceIndex, ids }),
    )
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

  /**
   * Indexes identified works in one bulk call (more when they are larger than maxBulkBytes).
   * Returns the documents Elasticsearch refused, with its reason, and those it already holds a
   * newer version of.
   */
  async function index(documents: IndexedWork[]): Promise<IndexOutcome> {
    const rejected = new Map<string, string>()
    const superseded = new Set<string>()
    // Elasticsearch refuses a whole request over http.max_content_length (100mb by default) with
    // 413. Bulks are cut at maxBulkBytes, so large works cannot push a request over it and fail
    // every work in it; a single work over the limit is that work's failure, not an outage.
    // Each work is serialised once, here: the same text decides the cut and is the request body
    // (a string the client sends as it is, with no second serialisation).
    for (const batch of bulkBodies(documents)) {
      let response
      try {
        response = await unavailableOnFailure(`writing ${targetIndex}`, () =>
          // The client passes a string body through untouched (its types only name arrays).
          target.bulk<unknown>({ body: batch.body as unknown as unknown[], filter_path: 'errors,items.*._id,items.*.error' }),
        )
      } catch (error) {
        const cause = error instanceof DependencyUnavailableError ? error.cause : error
        if (cause instanceof errors.ResponseError && cause.statusCode === 413 && batch.ids.length === 1) {
          rejected.set(batch.ids[0] as string, `request_entity_too_large: the work (${Buffer.byteLength(batch.body, 'utf8')} bytes) is over the target's http.max_content_length`)
          continue
        }
        throw error
      }
      if (!response.errors) continue
      for (const item of response.items) {
        const result = item.index
        if (result?.error && result._id) {
          if (result.error.type === 'index_not_found_exception' || result.error.type === 'es_rejected_execution_exception') {
            throw new DependencyUnavailableError('elasticsearch', `Elasticsearch could not write to ${targetIndex}: ${result.error.reason}`)
          }
          if (result.error.type === 'version_conflict_engine_exception') superseded.add(result._id)
          else rejected.set(result._id, `${result.error.type}: ${result.error.reason ?? 'no reason given'}`)
        }
      }
    }
    return { rejected, superseded }
  }

  // {"index":{"_index":…,"_id":…[,"version":…,"version_type":"external_gte"]}}, the action line before each document.
  const indexAction = `{"index":{"_index":${JSON.stringify(targetIndex)},"_id":`
  const versioned = (version: number | undefined) => (version === undefined ? '}}' : `,"version":${version},"version_type":"external_gte"}}`)

  /**
   * The NDJSON bodies of the bulk requests: each work's index action and document, cut at
   * maxBulkBytes of UTF-8. A UTF-16 code unit is at most 3 bytes of UTF-8, so sizes are measured
   * only once a body could come near the limit (never, for a request of ordinary works): the text
   * is encoded once, by the HTTP client as it writes it, as the client would its own NDJSON.
   */
  function bulkBodies(documents: IndexedWork[]): Array<{ body: string; ids: string[] }> {
    const batches: Array<{ body: string; ids: string[] }> = []
    let parts: string[] = []
    let ids: string[] = []
    let units = 0
    /** The UTF-8 size of parts, kept from the moment it could matter. */
    let bytes: number | undefined
    for (const { id, document, version } of documents) {
      const entry = `${indexAction}${JSON.stringify(id)}${versioned(version)}\n${JSON.stringify(document)}\n`
      if (bytes === undefined && (units + entry.length) * 3 > maxBulkBytes) {
        bytes = parts.reduce((sum, part) => sum + Buffer.byteLength(part, 'utf8'), 0)
      }
      if (bytes !== undefined) {
        const size = Buffer.byteLength(entry, 'utf8')
        if (ids.length > 0 && bytes + size > maxBulkBytes) {
          batches.push({ body: parts.join(''), ids })
          parts = []
          ids = []
          units = 0
          bytes = 0
        }
        bytes += size
      }
      parts.push(entry)
      ids.push(id)
      units += entry.length
    }
    if (ids.length > 0) batches.push({ body: parts.join(''), ids })
    return batches
  }

  /** True when the index exists and answers; throws with the reason otherwise. */
  async function ping(which: 'source' | 'target', timeoutMs: number): Promise<void> {
    const [client, name] = which === 'source' ? [source, sourceIndex] : [target, targetIndex]
    const exists = await client.indices.exists({ index: name }, { requestTimeout: timeoutMs, maxRetries: 0 })
    if (!exists) throw new Error(`index ${name} does not exist`)
  }

  return { fetch, index, ping, sourceIndex, targetIndex }
}

async function unavailableOnFailure<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    if (error instanceof DependencyUnavailableError) throw error
    if (error instanceof errors.ResponseError && error.statusCode === 404) {
      throw new DependencyUnavailableError('elasticsearch', `Elasticsearch ${what}: index not found`, { cause: error })
    }
    throw new DependencyUnavailableError('elasticsearch', `Elasticsearch unavailable ${what}: ${describeError(error)}`, {
      cause: error,
    })
  }
}
