import { readFileSync } from 'node:fs'
import t from 'tap'
import { generateOpenApi } from '../fixtures/openapi.js'

t.test('openapi/openapi.json is the document the app generates (run `npm run openapi` after changing a schema)', async (t) => {
  const committed = readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
  t.equal(committed, await generateOpenApi())
})

t.test('the OpenAPI document describes /mint and /health with every status they answer', async (t) => {
  const document = JSON.parse(await generateOpenApi())
  t.same(Object.keys(document.paths.mint ?? document.paths['/mint'].post.responses).sort(), ['200', '400', '401', '413', '415', '503'].sort())
  t.same(Object.keys(document.paths['/health'].get.responses).sort(), ['200', '503'])
  t.ok(document.paths['/mint'].post.requestBody.content['application/json'].schema.properties.sourceIdentifiers)
})
