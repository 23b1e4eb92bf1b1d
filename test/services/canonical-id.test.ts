import { randomBytes } from 'node:crypto'
import t from 'tap'
import { CANONICAL_ID_PATTERN, generateCanonicalIds } from '../../src/services/canonical-id.js'

const LETTERS = 'abcdefghjkmnpqrstuvwxyz'
const ALPHABET = `${LETTERS}23456789`

t.test('generateCanonicalIds gives 8 unambiguous, XML-safe characters', async (t) => {
  const ids = generateCanonicalIds(20_000)
  t.equal(ids.length, 20_000)
  const pattern = new RegExp(CANONICAL_ID_PATTERN)
  t.ok(ids.every((id) => pattern.test(id)), 'first a letter, then letters and digits 2-9, without i, l, o')
  t.ok(ids.every((id) => !/[ilo01]/.test(id)))
  t.equal(new Set(ids).size, ids.length, 'no repeats in 20 000 draws')
})

/**
 * Pearson's chi-square of the characters at `positions` of every ID against the uniform
 * distribution over `alphabet` (a character outside it counts as a failure of its own).
 */
function chiSquare(ids: string[], positions: number[], alphabet: string): number {
  const counts = new Map<string, number>([...alphabet].map((c) => [c, 0]))
  for (const id of ids) for (const p of positions) counts.set(id[p] as string, (counts.get(id[p] as string) ?? 0) + 1)
  if (counts.size !== alphabet.length) return Infinity
  const expected = (ids.length * positions.length) / alphabet.length
  return [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0)
}

// Critical values at p = 1e-9 (scipy.stats.chi2.isf(1e-9, df)): 23 letters, 22 degrees of freedom;
// 31 symbols, 30. A correct generator fails one of the two checks about 2 runs in a billion.
const CRITICAL_FIRST = 87.26
const CRITICAL_REST = 101.7
// 400 000 IDs: 400 000 first characters and 2.8 million others. The check then fails a generator
// with modulo bias (byte % 23 or byte % 31 without rejection: 3 letters 12/256 instead of 11/256, 8
// symbols 9/256 instead of 8/256) but for a chance of 1e-26, and one where a character in positions
// 2-8 is 6% more likely than the others but for 1e-18 (scipy.stats.ncx2.cdf).
const SAMPLE = 400_000
const REST = [1, 2, 3, 4, 5, 6, 7]

function uniformityProblems(ids: string[]): string[] {
  const first = chiSquare(ids, [0], LETTERS)
  const rest = chiSquare(ids, REST, ALPHABET)
  return [
    ...(first < CRITICAL_FIRST ? [] : [`first character: chi-square ${first.toFixed(1)} >= ${CRITICAL_FIRST}`]),
    ...(rest < CRITICAL_REST ? [] : [`characters 2-8: chi-square ${rest.toFixed(1)} >= ${CRITICAL_REST}`]),
  ]
}

t.test('generateCanonicalIds draws every character with equal probability', async (t) => {
  const ids = generateCanonicalIds(SAMPLE)
  t.same(uniformityProblems(ids), [], `chi-square: first ${chiSquare(ids, [0], LETTERS).toFixed(1)}, rest ${chiSquare(ids, REST, ALPHABET).toFixed(1)}`)
})

t.test('the uniformity check fails biased generators', async (t) => {
  /** IDs drawn like generateCanonicalIds, but by `pick` from each random byte. */
  const draw = (pick: (byte: number, alphabet: string) => string) => {
    const bytes = randomBytes(SAMPLE * 8)
    return Array.from({ length: SAMPLE }, (_, i) => {
      let id = pick(bytes[i * 8] as number, LETTERS)
      for (let j = 1; j < 8; j++) id += pick(bytes[i * 8 + j] as number, ALPHABET)
      return id
    })
  }
  const moduloBias = draw((byte, alphabet) => alphabet[byte % alphabet.length] as string)
  const problems = uniformityProblems(moduloBias)
  t.equal(problems.length, 2, `modulo bias is caught in both checks: ${problems.join('; ')}`)

  // One character 6% more likely (Math.random is enough for a generator that is meant to be wrong).
  const favoured = (alphabet: string) => {
    const weights: number[] = [...alphabet].map((_, i) => (i === 0 ? 1.06 : 1))
    const total = weights.reduce((a, b) => a + b)
    return () => {
      let x = Math.random() * total
      for (const [i, w] of weights.entries()) if ((x -= w) < 0) return alphabet[i] as string
      return alphabet.at(-1) as string
    }
  }
  const pickFirst = favoured(LETTERS)
  const pickRest = favoured(ALPHABET)
  const oneFavoured = Array.from({ length: SAMPLE }, () => pickFirst() + Array.from(REST, pickRest).join(''))
  const favouredProblems = uniformityProblems(oneFavoured)
  t.match(favouredProblems.join('; '), /characters 2-8/, `one character 6% more likely is caught: ${favouredProblems.join('; ')}`)
})
