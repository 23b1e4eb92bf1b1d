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
   * Indexes identified works in one bulk call. Returns, per rejected document id, Elasticsearch's reason.
   */
  async function index(documents: Array<{ id: string; document: unknown }>): Promise<Map<string, string>> {
    const rejected = new Map<string, string>()
    // Elasticsearch refuses a whole request over http.max_content_length (100mb by default) with
    // 413. Bulks are cut at maxBulkBytes, so large works cannot push a request over it and fail
    // every work in it; a single work over the limit is that work's failure, not an outage.
    // Each work is serialised once, here: its size decides the cut, and the same text is the
    // request body (a Buffer the client sends as it is, with no second serialisation or copy).
    for (const batch of bulkBodies(documents)) {
      let response
      try {
        response = await unavailableOnFailure(`writing ${targetIndex}`, () =>
          // The client passes a Buffer body through untouched (its types only name arrays).
          target.bulk<unknown>({ body: batch.body as unknown as unknown[], filter_path: 'errors,items.*._id,items.*.error' }),
        )
      } catch (error) {
        const cause = error instanceof DependencyUnavailableError ? error.cause : error
        if (cause instanceof errors.ResponseError && cause.statusCode === 413 && batch.ids.length === 1) {
          rejected.set(batch.ids[0] as string, `request_entity_too_large: the work (${batch.body.length} bytes) is over the target's http.max_content_length`)
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
          rejected.set(result._id, `${result.error.type}: ${result.error.reason ?? 'no reason given'}`)
        }
      }
    }
    return rejected
  }

  // {"index":{"_index":…,"_id":…}}, the action line before each document.
  const indexAction = `{"index":{"_index":${JSON.stringify(targetIndex)},"_id":`

  /**
   * The NDJSON bodies of the bulk requests: each work's index action and document, cut at
   * maxBulkBytes. Each document's JSON is copied into the body as soon as it is made, so it is
   * garbage at once (short-lived, never promoted), and the body is memory outside the JS heap.
   */
  function bulkBodies(documents: Array<{ id: string; document: unknown }>): Array<{ body: Buffer; ids: string[] }> {
    const batches: Array<{ body: Buffer; ids: string[] }> = []
    let body = Buffer.allocUnsafe(64 * 1024)
    let used = 0
    let ids: string[] = []
    const reserve = (bytes: number) => {
      if (used + bytes <= body.length) return
      const larger = Buffer.allocUnsafe(Math.max(body.length * 2, used + bytes))
      body.copy(larger, 0, 0, used)
      body = larger
    }
    for (const { id, document } of documents) {
      const action = `${indexAction}${JSON.stringify(id)}}}\n`
      const json = JSON.stringify(document)
      const size = Buffer.byteLength(action, 'utf8') + Buffer.byteLength(json, 'utf8') + 1
      if (ids.length > 0 && used + size > maxBulkBytes) {
        batches.push({ body: body.subarray(0, used), ids })
        body = Buffer.allocUnsafe(Math.max(64 * 1024, size))
        used = 0
        ids = []
      }
      reserve(size)
      used += body.write(action, used, 'utf8')
      used += body.write(json, used, 'utf8')
      body[used++] = 0x0a
      ids.push(id)
    }
    if (ids.length > 0) batches.push({ body: body.subarray(0, used), ids })
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
