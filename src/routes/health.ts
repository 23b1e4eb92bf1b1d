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
          queue: Type.Optional(Check('The input queue the server consumes (queue_url) answers GetQueueAttributes; present only when queue_url is set.')),
        },
        { description: 'One entry per dependency, each checked afresh on this call.' },
      ),
    },
    { description, examples: [example] },
  )

const ok = { status: 'ok', latencyMs: 2 }

const Live = Type.Object(
  { status: Type.Literal('ok', { description: 'The process answers requests.' }) },
  { description: 'The process is alive; its dependencies are not checked.', examples: [{ status: 'ok' }] },
)

const readiness = {
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
}

/**
 * Liveness and readiness, as orchestrators expect them apart: a container whose Elasticsearch is
 * down is alive (restarting it would not help) but not ready (it cannot mint).
 */
const routes: FastifyPluginAsyncTypebox<{ dependencies: HealthDependencies }> = async (app, { dependencies }) => {
  app.get(
    '/health/live',
    {
      schema: {
        tags: ['operations'],
        summary: 'Is the process alive?',
        description: 'Answers 200 whenever the process can answer at all: for a container HEALTHCHECK or a liveness probe. It checks no dependency.',
        response: { 200: Live },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  for (const url of ['/health', '/health/ready']) {
    app.get(
      url,
      {
        schema: {
          tags: ['operations'],
          summary: 'Can the service mint right now? (readiness)',
          description:
            'Checks the database and both Elasticsearch indices on every call (and the input queue, when queue_url is set), each within 3 s, so a dependency that comes back is seen at once. ' +
            'The identified index must exist with the identified index\'s mappings (dynamic: false). /health and /health/ready are the same check.',
          response: readiness,
        },
      },
      async (_request, reply) => {
        const health = await checkHealth(dependencies)
        return reply.code(health.status === 'ok' ? 200 : 503).send(health)
      },
    )
  }
}

export default routes
