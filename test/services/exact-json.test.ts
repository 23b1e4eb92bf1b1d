import t from 'tap'
import fc from 'fast-check'
import { hasInexactNumbers, parseExact } from '../../src/services/exact-json.js'
import { numberLiteral } from '../generators.js'

t.test('parseExact: a document read and written again keeps every number literal', async (t) => {
  const text = '{"a":12345678901234567890,"b":1.0,"c":[1e5,-0,0.1,1E+400,-0.0,9007199254740993],"d":{"e":"1.0","f":2}}'
  t.equal(JSON.stringify(parseExact(text)), text)
  t.equal(JSON.stringify(JSON.parse(text)) === text, false, 'where JSON.parse alone would not')
  t.same((parseExact('{"n":2,"s":"x"}') as { n: number }).n, 2, 'plain numbers stay numbers')
})

t.test('hasInexactNumbers: true for exactly the texts whose literals JSON.parse would respell', async (t) => {
  t.equal(hasInexactNumbers('{"t":"2026-05-02T10:00:00.000Z","n":[1,2,3.5,-7,0.1]}'), false, 'a date string and ordinary numbers')
  for (const literal of ['1.0', '1e5', '-0', '12345678901234567890', '0.12345678901234567890', '3.50', '1E2']) {
    t.equal(hasInexactNumbers(`{"n":[0, ${literal} ]}`), true, literal)
  }
  // The property: whatever the literals, a text with no inexact literal round-trips through plain JSON.parse.
  fc.assert(
    fc.property(fc.array(numberLiteral, { maxLength: 8 }), (literals) => {
      const text = `{"n":[${literals.join(',')}]}`
      const exact = JSON.stringify(JSON.parse(text)) === text
      if (hasInexactNumbers(text) === exact) throw new Error(`${text}: hasInexactNumbers says ${!exact}`)
      if (JSON.stringify(parseExact(text)) !== text) throw new Error(`${text} is not kept by parseExact`)
    }),
    { numRuns: 2000, seed: 20261129 },
  )
})

t.test('parseExact rejects what JSON.parse rejects', async (t) => {
  t.throws(() => parseExact('{"n":1.0,'))
  t.throws(() => parseExact('{"n":01}'))
})
