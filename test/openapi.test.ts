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

t.test('the OpenAPI document is valid OpenAPI 3 and describes every field and status with an example', async (t) => {
  const { default: SwaggerParser } = await import('@apidevtools/swagger-parser')
  const document = JSON.parse(await generateOpenApi())
  await t.resolves(SwaggerParser.validate(structuredClone(document)), 'valid per swagger-parser')

  const undescribed: string[] = []
  const walk = (schema: Record<string, any>, path: string) => {
    if (!schema.description && !path.endsWith('[]')) undescribed.push(path)
    for (const [name, property] of Object.entries<Record<string, any>>(schema.properties ?? {})) walk(property, `${path}.${name}`)
    if (schema.items) walk(schema.items, `${path}[]`)
  }
  for (const [route, methods] of Object.entries<Record<string, any>>(document.paths)) {
    for (const [method, operation] of Object.entries<Record<string, any>>(methods)) {
      const body = operation.requestBody?.content?.['application/json']?.schema
      if (body) walk(body, `${method} ${route} body`)
      for (const [status, response] of Object.entries<Record<string, any>>(operation.responses)) {
        t.ok(response.description, `${method} ${route} ${status} has a description`)
        for (const media of Object.values<Record<string, any>>(response.content ?? {})) {
          const schema = media.schema
          const example = media.example ?? media.examples ?? schema.example ?? schema.examples
          const propertiesHaveExamples = Object.values<Record<string, any>>(schema.properties ?? {}).every(
            (p) => p.example !== undefined || p.examples !== undefined || p.properties !== undefined,
          )
          t.ok(example !== undefined || (schema.properties && propertiesHaveExamples), `${method} ${route} ${status} has an example`)
          walk(schema, `${method} ${route} ${status}`)
        }
      }
    }
  }
  t.same(undescribed, [], 'every field has a description')
})

t.test('the OpenAPI document describes the look-up routes with every status they answer', async (t) => {
  const document = JSON.parse(await generateOpenApi())
  const statuses = (path: string, method: string) => Object.keys(document.paths[path][method].responses).sort()
  t.same(statuses('/canonical-ids/{canonicalId}', 'get'), ['200', '400', '401', '404', '503'])
  t.same(statuses('/source-identifiers', 'get'), ['200', '400', '401', '404', '503'])
  t.same(statuses('/source-identifiers/lookup', 'post'), ['200', '400', '401', '413', '415', '503'])
  t.same(
    document.paths['/source-identifiers'].get.parameters.map((p: { name: string; in: string; required: boolean }) => [p.name, p.in, p.required]),
    [['ontologyType', 'query', true], ['identifierType', 'query', true], ['value', 'query', true]],
  )
  t.equal(document.paths['/canonical-ids/{canonicalId}'].get.parameters[0].schema.pattern, '^[!-~]{8}$')
})
