import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

// The API's version: bump it when the contract of a route changes.
const API_VERSION = '1.1.0'
/** CSP hash of the <style> inside the Swagger UI top bar's SVG logo (@fastify/swagger-ui 6.1.3). */
const SWAGGER_LOGO_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"
const DESCRIPTION =
  'Gives every source identifier (ontology type, identifier type, value) one short, stable canonical ID, ' +
  'and writes each work to the identified index with canonical IDs embedded at every depth.'

/** The OpenAPI document, generated from the route schemas, and the Swagger UI at /documentation. */
export default fp(
  async (app, options: { ui: boolean }) => {
    await app.register(swagger, {
      // Shared schemas appear under their own names ("ErrorResponse"), not def-0.
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
      openapi: {
        openapi: '3.0.3',
        info: { title: 'id-minter', version: API_VERSION, description: DESCRIPTION },
        tags: [
          { name: 'minting', description: 'Give source identifiers canonical IDs and write identified works' },
          { name: 'look-up', description: 'Read-only: the canonical ID of a source identifier, and the source identifiers behind a canonical ID' },
          { name: 'operations', description: 'Health of the service and its dependencies' },
        ],
      },
    })
    if (!options.ui) return
    await app.register(swaggerUi, {
      routePrefix: '/documentation',
      // The package's policy allows the UI's inline script by hash; without upgrade-insecure-requests
      // the UI also works over plain http (a container reached by address, say).
      staticCSP: true,
      // The logo's inline <style> is allowed by its hash only, not by 'unsafe-inline'.
      transformStaticCSP: (header) =>
        header
          .replace(/\s*upgrade-insecure-requests;?/, '')
          .replace(/style-src ([^;]*)/, (_all, sources: string) => `style-src ${sources.trim()} ${SWAGGER_LOGO_STYLE}`),
    })
  },
  { name: 'swagger' },
)
