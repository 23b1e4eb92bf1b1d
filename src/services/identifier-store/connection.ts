import type { Pool, PoolConnection } from 'mysql2/promise'
import type { Deadline } from '../deadline.js'
import { DependencyUnavailableError } from '../errors.js'

// How the identifier store and the health check talk to MySQL within a request's deadline.

/** Waits for `promise` no longer than the deadline allows (for start-up work shared by every request). */
export async function within<T>(deadline: Deadline, stage: string, promise: Promise<T>, waitingFor = 'the migrations'): Promise<T> {
  const wait = deadline.forStage('database', stage)
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(deadline.spent('database', `${stage} (waiting for ${waitingFor})`)), wait)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** A statement on one connection, bounded by the request's deadline. */
export type Query = (sql: string, values?: unknown[], rowsAsArray?: boolean) => Promise<unknown>

/**
 * Takes a connection from the pool for `body` and gives it back after. Waiting for a connection is
 * bounded by the deadline too: a connection that arrives after the request gave up is released at
 * once, unused. A statement that times out destroys its connection, so the server drops whatever
 * it was doing and nothing of this request runs on it later.
 */
export async function withConnection<T>(pool: Pool, deadline: Deadline, stage: string, body: (query: Query, connection: PoolConnection) => Promise<T>): Promise<T> {
  const pending = pool.getConnection()
  let connection: PoolConnection
  try {
    connection = await within(deadline, stage, pending, 'a database connection')
  } catch (error) {
    pending.then((late) => late.release(), () => {})
    throw error
  }
  let broken = false
  const query: Query = async (sql, values, rowsAsArray = false) => {
    try {
      const [result] = await connection.query({ sql, values, rowsAsArray, timeout: deadline.forStage('database', stage) })
      return result
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'PROTOCOL_SEQUENCE_TIMEOUT' || (error as { fatal?: boolean }).fatal) broken = true
      if (code === 'PROTOCOL_SEQUENCE_TIMEOUT') throw deadline.spent('database', stage, error)
      if (error instanceof DependencyUnavailableError) broken = true
      throw error
    }
  }
  try {
    return await body(query, connection)
  } finally {
    if (broken) connection.destroy()
    else connection.release()
  }
}
