/**
 * The floor (floor-mint.ts) as a Lambda-style handler, bundled like the service's Lambda
 * (scripts/build-lambda.ts) for the cold-start comparison: its pool and client are made when the
 * module loads, and the handler mints the event's works the floor's way.
 */
import { mint } from './floor-mint.js'

export async function handler(event: { sourceIdentifiers: string[] }) {
  await mint(event.sourceIdentifiers)
  return { successes: event.sourceIdentifiers, failures: [] }
}
