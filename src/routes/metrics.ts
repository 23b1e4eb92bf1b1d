import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description: 'Request and minting counters and histograms, and the process metrics, in the Prometheus text format.',
        produces: ['text/plain'],
        response: {
          200: Type.String({
            description: 'Prometheus exposition format.',
            examples: ['id_minter_identifiers_total{outcome="success"} 42'],
          }),
        },
      },
    },
    async (_request, reply) => {
      return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics())
    },
  )
}

export default routes
