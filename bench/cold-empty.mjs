// An empty handler: its "cold start" is Node's own start-up and one dynamic import.
export async function handler() {
  return { successes: [], failures: [] }
}
