import t from 'tap'
import { CANONICAL_ID_PATTERN, generateCanonicalIds } from '../../src/services/canonical-id.js'

t.test('generateCanonicalIds gives 8 unambiguous, XML-safe characters', async (t) => {
  const ids = generateCanonicalIds(20_000)
  t.equal(ids.length, 20_000)
  const pattern = new RegExp(CANONICAL_ID_PATTERN)
  t.ok(ids.every((id) => pattern.test(id)), 'first a letter, then letters and digits 2-9, without i, l, o')
  t.ok(ids.every((id) => !/[ilo01]/.test(id)))
  t.equal(new Set(ids).size, ids.length, 'no repeats in 20 000 draws')
})

t.test('generateCanonicalIds draws every character with equal probability', async (t) => {
  // 31 symbols in positions 2-8; a chi-square over 280 000 draws stays far below the 0.1% critical
  // value (59.7 for 30 degrees of freedom) unless some character is favoured.
  const counts = new Map<string, number>()
  for (const id of generateCanonicalIds(40_000)) for (const c of id.slice(1)) counts.set(c, (counts.get(c) ?? 0) + 1)
  t.equal(counts.size, 31)
  const expected = (40_000 * 7) / 31
  const chiSquare = [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0)
  t.ok(chiSquare < 59.7, `chi-square ${chiSquare.toFixed(1)} < 59.7`)
})
