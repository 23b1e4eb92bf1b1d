/** An ISO-8601 date-time with a zone, as the pipeline writes Instants (2026-05-02T10:00:00Z); seconds and their fraction optional. */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/

/**
 * Epoch milliseconds of an ISO-8601 date-time with a zone that names a real time; undefined for
 * any other text. Date.parse alone is not enough: it rolls 31 February over into 3 March and reads
 * T24:00 as the next day. Used for works' state.sourceModifiedTime (minter.ts) and reprocess
 * windows (reprocess.ts, which also asks for seconds and at most milliseconds).
 */
export function parseDateTime(text: string): number | undefined {
  const fields = ISO_DATE_TIME.exec(text)
  if (!fields) return undefined
  const [, year, month, day, hour, minute, second = '0', zoneHours = '0', zoneMinutes = '0'] = fields
  const m = Number(month)
  const daysInMonth = new Date(Date.UTC(Number(year), m, 0)).getUTCDate()
  const real = m >= 1 && m <= 12 && Number(day) >= 1 && Number(day) <= daysInMonth && Number(hour) < 24 && Number(minute) < 60 && Number(second) < 60 && Number(zoneHours) < 24 && Number(zoneMinutes) < 60
  const ms = real ? Date.parse(text) : Number.NaN
  return Number.isFinite(ms) ? ms : undefined
}
