// `npm run openapi`: writes the OpenAPI document the app generates to openapi/openapi.json.
import { writeFileSync } from 'node:fs'
import { generateOpenApi } from '../fixtures/openapi.js'

const file = new URL('../openapi/openapi.json', import.meta.url)
writeFileSync(file, await generateOpenApi())
process.stdout.write(`wrote ${file.pathname}\n`)
