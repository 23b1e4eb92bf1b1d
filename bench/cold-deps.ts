/**
 * Only the three libraries the service cannot do without, bundled like the service's Lambda
 * (scripts/build-lambda.ts): importing this is the least any bundle of the service can cost.
 */
import { Client } from '@elastic/elasticsearch'
import Fastify from 'fastify'
import mysql from 'mysql2/promise'

export const libraries = [Client, Fastify, mysql]

export async function handler() {
  return { successes: [], failures: [] }
}
