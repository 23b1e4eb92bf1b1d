import type { SQSClient } from '@aws-sdk/client-sqs'
import type { Deadline } from './deadline.js'

/** The targets `use_downstream` chooses between. */
export type DownstreamTarget = 'sqs' | 'stdio' | 'none'

/** What one notify call did. */
export interface NotifyOutcome {
  /** Canonical IDs handed to the target (for none: 0). */
  sent: number
  /** Canonical IDs that could not be sent after the retries, each with why. */
  failed: Map<string, string>
  /** Requests made to the target: SendMessageBatch calls for sqs, retries included; 0 otherwise. */
  requests: number
}

/**
 * Where the canonical ID of a minted work goes once the work is indexed: one message per work,
 * its body the plain 8-character canonical ID, as the existing pipeline's consumers read it.
 * Chosen once at start-up from configuration (createDownstream); knows nothing of Lambda or Fastify.
 */
export interface Downstream {
  readonly target: DownstreamTarget
  /**
   * Sends each canonical ID once (repeats in `canonicalIds` are sent once). Never throws for a
   * failed send: what could not be sent comes back in `failed`, for the caller to report.
   */
  notify(canonicalIds: string[], deadline: Deadline): Promise<NotifyOutcome>
  /** Releases the target's connections. */
  close(): void
}

/** One line per canonical ID on a stream (standard output by default): for local runs. */
export function createStdioDownstream(write: (text: string) => unknown = (text) => process.stdout.write(text)): Downstream {
  return {
    target: 'stdio',
    async notify(canonicalIds) {
      const unique = [...new Set(canonicalIds)]
      if (unique.length > 0) write(`${unique.join('\n')}\n`)
      return { sent: unique.length, failed: new Map(), requests: 0 }
    },
    close: () => {},
  }
}

/** No notifications: the Step Functions interface's default, which the spec says needs none. */
export function createNoDownstream(): Downstream {
  return {
    target: 'none',
    notify: async () => ({ sent: 0, failed: new Map(), requests: 0 }),
    close: () => {},
  }
}

/**
 * The downstream the configuration chooses (use_downstream; downstream_queue_url for sqs, checked
 * by loadConfig). Asynchronous because the SQS one loads the AWS SDK (./sqs.ts) only now.
 */
export async function createDownstream(config: { use_downstream: DownstreamTarget; downstream_queue_url?: string | undefined }, options: { client?: SQSClient } = {}): Promise<Downstream> {
  switch (config.use_downstream) {
    case 'sqs': {
      const { createSqsDownstream } = await import('./sqs.js')
      return createSqsDownstream({ queueUrl: config.downstream_queue_url as string, ...(options.client ? { client: options.client } : {}) })
    }
    case 'stdio':
      return createStdioDownstream()
    case 'none':
      return createNoDownstream()
  }
}
