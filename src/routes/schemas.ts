import { Type, type Static } from '@sinclair/typebox'

/** Every error answer has this shape, the one Fastify's own validation errors have. */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ description: 'The HTTP status code.', examples: [400] }),
    error: Type.String({ description: 'The HTTP status text.', examples: ['Bad Request'] }),
    message: Type.String({
      description: 'What went wrong, in a sentence.',
      examples: ['body/sourceIdentifiers must NOT have fewer than 1 items'],
    }),
  },
  { $id: 'ErrorResponse', title: 'ErrorResponse', description: 'A request that could not be served.' },
)
export type ErrorResponse = Static<typeof ErrorResponse>

export const errorResponse = Type.Ref(ErrorResponse)
