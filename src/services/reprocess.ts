import { randomUUID } from 'node:crypto'
import { Deadline } from './deadline.js'
import { parseDateTime } from './date-time.js'
import { DependencyUnavailableError, InvalidCursorError } from './errors.js'
import type { MintFailure, Minter } from './minter.js'
import { decodeCursor, encodeCursor, type CursorState, type Selection } from './reprocess-cursor.js'
import type { WorkStore } from './work-store.js'

export type { Selection } from './reprocess-cursor.js'

/** Works per mint: the most one mint takes (POST /mint's MAX_SOURCE_IDENTIFIERS). */
export const MINT_CHUNK_SIZE = 100
/** Failures an answer lists; the rest are counted and logged. */
export const MAX_LISTED_FAILURES = 100
/** A listed failure's error is cut to this many characters (the log line has it whole). */
export const MAX_LISTED_ERROR_LENGTH = 500
/**
 * The most the listed failures may take as JSON, in bytes: an _id of control characters is six
 * times longer escaped than it is long, so a count alone does not keep an answer below Step
 * Functions' 256 KB. Past it, failures are counted and logged, and failuresTruncated says so.
 */
export const MAX_LISTED_FAILURE_BYTES = 160 * 1024
/** The most slices one job has: Elasticsearch's index.max_slices_per_scroll default. */
export const MAX_SLICES = 1024
/** The window a request without startTime covers: the 15 minutes before its end. */
export const DEFAULT_WINDOW_MS = 15 * 60 * 1000

/**
 * A reprocess request, as POST /reprocess and a Lambda event give it: `window` or `full`, never
 * both. Times are ISO-8601 date-times with a zone, to the millisecond. See README.md, Reprocessing.
 */
export interface ReprocessRequest {
  /** The works whose indexed_at lies in [startTime, endTime); endTime defaults to now, startTime to endTime less 15 minutes. */
  window?: { startTime?: string; endTime?: string }
  /** Every work of the source index (only `true`). */
  full?: boolean
  /** Sliced search: slice `id` (0-based) of `max`. Needs the cursor of the job's opening (`slices`) or of an earlier answer for this slice. */
  slice?: { id: number; max: number }
  /** Opens a job of this many slices: one point in time for them all, and the cursor each slice starts from; mints nothing. */
  slices?: number
  /** The cursor of an earlier answer: carry on where it stopped. */
  cursor?: string
  /** Echoed in the answer and on every log line; with a cursor, the cursor's jobId when omitted, otherwise a new UUID. */
  jobId?: string
}

/** The answer: counts of this call only, the first failures, and a cursor while works remain. */
export interface ReprocessAnswer {
  jobId: string
  window?: { startTime: string; endTime: string }
  full?: true
  slice?: { id: number; max: number }
  /** The answer to a job's opening: how many slices start from its cursor. */
  slices?: number
  /** Works minted by this call: successCount + failureCount. */
  processed: number
  successCount: number
  failureCount: number
  /** The first MAX_LISTED_FAILURES failures of this call, each error cut to MAX_LISTED_ERROR_LENGTH characters. */
  failures: MintFailure[]
  /** Whether this call had more failures than `failures` lists. */
  failuresTruncated: boolean
  /** Present while works remain: pass it back (with the same window or full, and slice) to continue. */
  cursor?: string
}

/** Bad input (400 over HTTP, an `Invalid input` answer to a Lambda): the message says which field and why. */
export class InvalidReprocessRequestError extends Error {
  override name = 'InvalidReprocessRequestError'
  readonly statusCode = 400
}

/** What one chunk of (at most) MINT_CHUNK_SIZE works did, for the caller's metrics and progress. */
export interface ChunkReport {
  works: number
  successCount: number
  failureCount: number
  supersededCount: number
  durationMs: number
  /** The cursor that continues after this chunk: what a caller keeps to resume from if it stops before the answer. */
  cursor: string
}

/** The slice of a pino logger this service writes to: a failure is a warning, a superseded copy information. */
export interface ReprocessLog {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
}

export interface RunOptions {
  /** The call's whole budget: it stops before it runs out (see reprocess()). */
  deadline: Deadline
  /** Aborted: stop after the chunk in flight and answer a cursor (Ctrl-C in the CLI). */
  signal?: AbortSignal
  /** Called after every chunk. */
  onChunk?: (chunk: ChunkReport) => void
  log?: ReprocessLog
}

export interface ReprocessDependencies {
  works: WorkStore
  minter: Minter
  /** The most one chunk (a mint of 100 works) and one page read may take, in ms, within the call's budget: MINT_TIMEOUT_MS. */
  chunkBudgetMs: number
  /** How long Elasticsearch keeps the point in time after each search, as a time value: long enough to cover the gap between two calls of a job, retries included. */
  keepAlive?: string
  /** Work ids read per page of the point in time; minted MINT_CHUNK_SIZE at a time. */
  pageSize?: number
  /** The current time, in epoch ms (a window's default end). */
  now?: () => number
}

export type Reprocessor = ReturnType<typeof createReprocessor>

/** A window's form: seconds given, at most milliseconds (indexed_at's precision). */
const WINDOW_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})$/

/** Epoch ms of a real ISO-8601 date-time with a zone in WINDOW_TIME's form (date-time.ts); undefined otherwise. */
function parseTime(text: string): number | undefined {
  return WINDOW_TIME.test(text) ? parseDateTime(text) : undefined
}

const describeSelection = (s: Selection) => ('full' in s ? 'the full index' : `the window [${s.window.startTime}, ${s.window.endTime})`)
const describeSlice = (s: { id: number; max: number } | undefined) => (s ? `slice ${s.id} of ${s.max}` : 'no slice')

/**
 * Mints every work in a window of the source index, or all of it, through the same minter as POST
 * /mint: reads the source index's work ids from a point in time with search_after, a page at a
 * time (never from/size or scroll), optionally one slice of a sliced search, and mints them
 * MINT_CHUNK_SIZE at a time. Stops before its time budget runs out and answers a cursor to
 * continue with; memory holds one page of ids and one chunk of works, however large the selection.
 */
export function createReprocessor({ works, minter, chunkBudgetMs, keepAlive = '10m', pageSize = 1000, now = Date.now }: ReprocessDependencies) {
  /**
   * What the request selects, checked: the window's times, the slice, and the cursor, which must
   * be this service's, for this source index, this selection and this slice.
   * Throws InvalidReprocessRequestError or InvalidCursorError.
   */
  function resolve(request: ReprocessRequest): { selection: Selection; range?: { start: number; end: number }; slice?: { id: number; max: number }; cursor?: CursorState } {
    const invalid = (message: string) => new InvalidReprocessRequestError(message)
    if ((request.window === undefined) === (request.full === undefined)) throw invalid('give either window or full (and not both)')
    if (request.full !== undefined && request.full !== true) throw invalid('full must be true')
    if (request.slice !== undefined) {
      const { id, max } = request.slice
      if (!Number.isInteger(max) || max < 1 || max > MAX_SLICES) throw invalid(`slice.max must be an integer from 1 to ${MAX_SLICES}`)
      if (!Number.isInteger(id) || id < 0 || id >= max) throw invalid('slice.id must be an integer from 0 to slice.max - 1')
    }
    if (request.slices !== undefined) {
      if (!Number.isInteger(request.slices) || request.slices < 1 || request.slices > MAX_SLICES) throw invalid(`slices must be an integer from 1 to ${MAX_SLICES}`)
      if (request.slice !== undefined || request.cursor !== undefined) throw invalid('slices opens a job: it takes neither slice nor cursor')
    }
    const cursor = request.cursor === undefined ? undefined : decodeCursor(request.cursor)
    if (cursor && cursor.index !== works.sourceIndex) throw new InvalidCursorError(`Invalid cursor: it reads ${cursor.index}, and this service reads ${works.sourceIndex}`)

    let selection: Selection
    let range: { start: number; end: number } | undefined
    if (request.window !== undefined) {
      const given = { start: request.window.startTime, end: request.window.endTime }
      const parsed = { start: given.start === undefined ? undefined : parseTime(given.start), end: given.end === undefined ? undefined : parseTime(given.end) }
      for (const name of ['start', 'end'] as const) {
        if (given[name] !== undefined && parsed[name] === undefined) {
          throw invalid(`window.${name}Time ${JSON.stringify(given[name])} is not an ISO-8601 date-time with a zone, at most to the millisecond (like 2026-05-02T10:00:00Z)`)
        }
      }
      if (cursor) {
        // A continued call carries on the cursor's window: a time it gives must be the same instant.
        if (!('window' in cursor.selection)) throw new InvalidCursorError(`Invalid cursor: it continues ${describeSelection(cursor.selection)}, not a window`)
        const own = { start: Date.parse(cursor.selection.window.startTime), end: Date.parse(cursor.selection.window.endTime) }
        if ((parsed.start !== undefined && parsed.start !== own.start) || (parsed.end !== undefined && parsed.end !== own.end)) {
          throw new InvalidCursorError(`Invalid cursor: it continues ${describeSelection(cursor.selection)}, not the window this request gives`)
        }
        range = own
      } else {
        const end = parsed.end ?? now()
        range = { start: parsed.start ?? end - DEFAULT_WINDOW_MS, end }
        if (range.start >= range.end) throw invalid(`window.startTime (${new Date(range.start).toISOString()}) must be before window.endTime (${new Date(range.end).toISOString()})`)
      }
      selection = { window: { startTime: new Date(range.start).toISOString(), endTime: new Date(range.end).toISOString() } }
    } else {
      if (cursor && !('full' in cursor.selection)) throw new InvalidCursorError(`Invalid cursor: it continues ${describeSelection(cursor.selection)}, not the full index`)
      selection = { full: true }
    }

    let slice = request.slice
    if (cursor?.slices !== undefined) {
      // The cursor of a job's opening: each slice starts from it, and says which it is.
      if (!slice) throw new InvalidCursorError(`Invalid cursor: it opens a job of ${cursor.slices} slices; give the slice ({"id": 0 to ${cursor.slices - 1}, "max": ${cursor.slices}}) with it`)
      if (slice.max !== cursor.slices) throw new InvalidCursorError(`Invalid cursor: it opens a job of ${cursor.slices} slices, not ${slice.max}`)
    } else if (cursor) {
      if (slice && (!cursor.slice || slice.id !== cursor.slice.id || slice.max !== cursor.slice.max)) {
        throw new InvalidCursorError(`Invalid cursor: it continues ${describeSlice(cursor.slice)}, not ${describeSlice(slice)}`)
      }
      slice = cursor.slice
    } else if (slice) {
      // Sliced search covers a selection exactly once only when every slice reads one point in time.
      throw invalid('a slice reads the point in time its job opened: open the job with {"slices": n} (and window or full), then send each slice with that cursor')
    }
    return { selection, ...(range ? { range } : {}), ...(slice ? { slice } : {}), ...(cursor ? { cursor } : {}) }
  }

  /**
   * Reprocesses the request's selection within `deadline`, and answers what it did. Before each
   * chunk it checks the budget: when less is left than twice the slowest chunk so far (page read
   * included), or `signal` is aborted, it stops and answers a cursor. It mints at least one chunk
   * per call unless aborted, so a loop on the cursor always progresses. An unreachable dependency
   * is DependencyUnavailableError, unless it is the call's budget that ran out after some chunks:
   * then the cursor is answered at the last chunk minted. A request `slices` opens a job and mints
   * nothing. Throws InvalidReprocessRequestError, InvalidCursorError, PointInTimeExpiredError.
   */
  async function reprocess(request: ReprocessRequest, { deadline, signal, onChunk, log }: RunOptions): Promise<ReprocessAnswer> {
    const { selection, range, slice, cursor } = resolve(request)
    const jobId = request.jobId ?? cursor?.jobId ?? randomUUID()
    const answer: ReprocessAnswer = {
      jobId,
      ...selection,
      ...(slice ? { slice } : {}),
      processed: 0,
      successCount: 0,
      failureCount: 0,
      failures: [],
      failuresTruncated: false,
    }
    let listedBytes = 0
    const stageDeadline = () => new Deadline(Math.min(deadline.remaining(), chunkBudgetMs))
    let pointInTime = cursor?.pointInTime ?? (await works.openPointInTime(keepAlive, stageDeadline()))
    const state = (after: unknown[] | undefined, extra: Partial<CursorState> = {}): string =>
      encodeCursor({ index: works.sourceIndex, pointInTime, selection, ...(slice ? { slice } : {}), ...(after ? { after } : {}), jobId, ...extra })

    if (request.slices !== undefined) return { ...answer, slices: request.slices, cursor: state(undefined, { slices: request.slices }) }

    let after = cursor?.after
    let page: Array<{ id: string; sort: unknown[] }> = []
    let next = 0
    let lastPage = false
    let chunks = 0
    let slowestMs = 0
    for (;;) {
      if (next >= page.length) {
        if (lastPage) break
        const read = await works.readPage({ pointInTime, keepAlive, ...(range ? { window: range } : {}), ...(slice ? { slice } : {}), ...(after ? { searchAfter: after } : {}), size: pageSize }, stageDeadline())
        pointInTime = read.pointInTime
        page = read.hits
        next = 0
        // A short page is the last one: no search needed to learn that nothing follows.
        lastPage = page.length < pageSize
        if (page.length === 0) break
      }
      if (signal?.aborted || (chunks > 0 && deadline.remaining() < 2 * slowestMs)) return { ...answer, cursor: state(after) }
      const chunk = page.slice(next, next + MINT_CHUNK_SIZE)
      const started = performance.now()
      let report
      try {
        report = await minter.mint({ sourceIdentifiers: chunk.map((hit) => hit.id), jobId }, stageDeadline())
      } catch (error) {
        if (error instanceof DependencyUnavailableError && chunks > 0 && deadline.remaining() < 1) {
          log?.warn({ jobId, err: error }, 'reprocess: the budget ran out during a chunk; answering a cursor at the last chunk minted')
          return { ...answer, cursor: state(after) }
        }
        throw error
      }
      const durationMs = performance.now() - started
      slowestMs = Math.max(slowestMs, durationMs)
      chunks++
      next += chunk.length
      after = (chunk.at(-1) as { sort: unknown[] }).sort
      const { result, superseded } = report
      answer.successCount += result.successes.length
      answer.failureCount += result.failures.length
      answer.processed += result.successes.length + result.failures.length
      for (const failure of result.failures) {
        log?.warn({ jobId, sourceIdentifier: failure.sourceIdentifier, error: failure.error }, 'reprocess: work failed')
        const entry = listed(failure)
        const bytes = Buffer.byteLength(JSON.stringify(entry), 'utf8') + 1
        if (answer.failures.length < MAX_LISTED_FAILURES && listedBytes + bytes <= MAX_LISTED_FAILURE_BYTES) {
          answer.failures.push(entry)
          listedBytes += bytes
        } else answer.failuresTruncated = true
      }
      for (const entry of superseded) log?.info({ jobId, ...entry }, 'superseded: the identified index keeps another copy')
      onChunk?.({ works: chunk.length, successCount: result.successes.length, failureCount: result.failures.length, supersededCount: superseded.length, durationMs, cursor: state(after) })
    }
    // Finished. A point in time no other slice reads is closed now rather than left to expire.
    if (!slice) {
      await works.closePointInTime(pointInTime, stageDeadline()).catch((error: unknown) => log?.warn({ jobId, err: error }, 'reprocess: the point in time could not be closed; it expires by itself'))
    }
    return answer
  }

  /** How many works the request selects (a count query, outside any point in time: for progress only). */
  async function count(request: ReprocessRequest, deadline: Deadline): Promise<number> {
    const { range } = resolve(request)
    return works.countWorks(range, deadline)
  }

  return { reprocess, count, resolve }
}

function listed(failure: MintFailure): MintFailure {
  const { error } = failure
  return error.length <= MAX_LISTED_ERROR_LENGTH ? failure : { sourceIdentifier: failure.sourceIdentifier, error: `${error.slice(0, MAX_LISTED_ERROR_LENGTH - 1)}…` }
}
