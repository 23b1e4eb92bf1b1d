import { createHash } from 'node:crypto'
import { InvalidCursorError } from './errors.js'
import { parseExact } from './exact-json.js'

/** What a reprocess reads: the works whose indexed_at lies in [startTime, endTime), or every work. */
export type Selection = { window: { startTime: string; endTime: string } } | { full: true }

/**
 * Where a reprocess stopped, and everything needed to carry on from there and nowhere else: the
 * point in time it reads (Elasticsearch's id), the sort values of the last work it minted, the
 * selection and slice it covers, the source index, and the job. A cursor that opens a sliced job
 * (`slices`, no `slice`, no `after`) is where each of its slices starts.
 */
export interface CursorState {
  /** The source index the point in time is on. */
  index: string
  /** The point in time's id, as Elasticsearch last answered it. */
  pointInTime: string
  selection: Selection
  /** The slice this cursor continues (slice `id` of `max`). */
  slice?: { id: number; max: number }
  /** A cursor that opens a job of this many slices: every slice starts from it. */
  slices?: number
  /** The _shard_doc sort values of the last work minted: reading goes on after it. Absent: from the start. */
  after?: unknown[]
  jobId: string
}

const PREFIX = 'rc1'

/** The checksum of a cursor's payload: catches a cursor cut short or mistyped, not a forgery (Elasticsearch's own access control guards the data). */
function checksum(payload: string): string {
  return createHash('sha256').update(payload).digest('base64url').slice(0, 16)
}

/** The cursor as an opaque token, `rc1.<payload>.<checksum>`, all base64url: it travels in JSON and on command lines as it is. */
export function encodeCursor(state: CursorState): string {
  const body = {
    v: 1,
    index: state.index,
    pit: state.pointInTime,
    selection: state.selection,
    ...(state.slice ? { slice: state.slice } : {}),
    ...(state.slices !== undefined ? { slices: state.slices } : {}),
    ...(state.after ? { after: state.after } : {}),
    jobId: state.jobId,
  }
  // JSON.stringify writes sort values kept exact by the client's parser (JSON.rawJSON) as they came.
  const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url')
  return `${PREFIX}.${payload}.${checksum(payload)}`
}

const isInteger = (value: unknown, min: number) => typeof value === 'number' && Number.isInteger(value) && value >= min

/** Reads a token encodeCursor made; anything else, or a token damaged on the way, is InvalidCursorError. */
export function decodeCursor(token: string): CursorState {
  const invalid = (why: string) => new InvalidCursorError(`Invalid cursor: ${why}; pass the cursor of an earlier answer exactly as it came`)
  const parts = token.split('.')
  if (parts.length !== 3 || parts[0] !== PREFIX) throw invalid('it is not a reprocess cursor')
  const [, payload, sum] = parts as [string, string, string]
  if (checksum(payload) !== sum) throw invalid('it has been cut short or altered')
  let body: Record<string, unknown>
  try {
    // Sort values beyond 2^53 must come back exactly as Elasticsearch gave them.
    body = parseExact(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
  } catch {
    throw invalid('its payload is not JSON')
  }
  const selection = body.selection as Record<string, unknown> | undefined
  const window = selection?.window as Record<string, unknown> | undefined
  const slice = body.slice as Record<string, unknown> | undefined
  const wellFormed =
    body.v === 1 &&
    typeof body.index === 'string' &&
    typeof body.pit === 'string' &&
    typeof body.jobId === 'string' &&
    (selection?.full === true || (typeof window?.startTime === 'string' && typeof window.endTime === 'string')) &&
    (slice === undefined || (isInteger(slice.id, 0) && isInteger(slice.max, 1) && (slice.id as number) < (slice.max as number))) &&
    (body.slices === undefined || isInteger(body.slices, 1)) &&
    (body.after === undefined || Array.isArray(body.after))
  if (!wellFormed) throw invalid('its payload is not that of a reprocess cursor')
  return {
    index: body.index as string,
    pointInTime: body.pit as string,
    selection: selection?.full === true ? { full: true } : { window: { startTime: window?.startTime as string, endTime: window?.endTime as string } },
    ...(slice ? { slice: { id: slice.id as number, max: slice.max as number } } : {}),
    ...(body.slices !== undefined ? { slices: body.slices as number } : {}),
    ...(body.after ? { after: body.after as unknown[] } : {}),
    jobId: body.jobId as string,
  }
}
