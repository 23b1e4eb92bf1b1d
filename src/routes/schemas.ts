import { Type, type Static } from '@sinclair/typebox'
import { STATUS_CODES } from 'node:http'

const errorProperties = (statusCode: number, message: string) => ({
  statusCode: Type.Integer({ description: 'The HTTP status code.', examples: [statusCode] }),
  error: Type.String({ description: 'The HTTP status text.', examples: [STATUS_CODES[statusCode]] }),
  message: Type.String({ description: 'What went wrong, in a sentence.', examples: [message] }),
})

/** Every error answer has this shape, the one Fastify's own validation errors have. */
export const ErrorResponse = Type.Object(errorProperties(400, 'body/sourceIdentifiers must NOT have fewer than 1 items'))
export type ErrorResponse = Static<typeof ErrorResponse>

/** The error shape for one status, with an example of that status (the Swagger UI shows it). */
export function errorResponse(statusCode: number, description: string, message: string) {
  return Type.Object(errorProperties(statusCode, message), { description })
}
