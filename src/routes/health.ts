import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkHealth, type HealthDependencies } from '../services/health.js'

const Check = (description: string) =>
  Type.Object(
    {
      status: Type.Union([Type.Literal('ok'), Type.Literal('error')], { description: 'Whether this dependency answered.' }),
      latencyMs: Type.Number({ description: 'How long the check took, in milliseconds.', examples: [3] }),
      error: Type.Optional(Type.String({ description: 'Why the check failed.', examples: ['connect ECONNREFUSED 127.0.0.1:3306'] })),
    },
    { description },
  )

const HealthResponse = (description: string, example: unknown) =>
  Type.Object(
    {
      status: Type.Union([Type.Literal('ok'), Type.Literal('error')], {
        description: '"ok" when every dependency answered, "error" otherwise.',
      }),
      checks: Type.Object(
        {
          database: Check('The MySQL primary (and replica, when configured): the identifiers table can be read (after migrations, when they are applied at start-up).'),
          sourceIndex: Check('The source index (es_source_index) exists and answers.'),
          identifiedIndex: Check('The identified index (es_identified_index) exists and answers.'),
        },
        { description: 'One entry per dependency, each checked afresh on this call.' },
      ),
    },
    { description, examples: [example] },
  )

const ok = { status: 'ok', latencyMs: 2 }

const routes: FastifyPluginAsyncTypebox<{ dependencies: HealthDependencies }> = async (app, { dependencies }) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Can the service mint right now?',
        description: 'Checks the database and both Elasticsearch indices on every call, so a dependency that comes back is seen at once.',
        response: {
          200: HealthResponse('Every dependency answered.', {
            status: 'ok',
            checks: { database: ok, sourceIndex: ok, identifiedIndex: ok },
          }),
          503: HealthResponse('At least one dependency did not answer; its check says why.', {
            status: 'error',
            checks: {
              database: { status: 'error', latencyMs: 1, error: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:3306' },
              sourceIndex: ok,
              identifiedIndex: ok,
            },
          }),
        },
      },
    },
    async (_request, reply) => {
      const health = await checkHealth(dependencies)
      return reply.code(health.status === 'ok' ? 200 : 503).send(health)
    },
  )
}

export default routes
