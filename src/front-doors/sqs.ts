import type { Context, SQSRecord } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'
import { Deadline } from '../services/deadline.js'
import type { SqsBatchResponse } from '../services/sqs-batch.js'

/**
 * The SQS interface in Lambda: an event source mapping (with ReportBatchItemFailures) hands the
 * function up to 10,000 records; each body is a source identifier, plain or in an SNS envelope.
 * The batch goes through the app's SQS batch rules (src/services/sqs-batch.ts, shared with the
 * container's queue consumer) within the invocation's remaining time less
 * LAMBDA_TIMEOUT_MARGIN_MS, and the answer lists the messageId of every message not fully
 * processed: {batchItemFailures: [{itemIdentifier}]}. Lambda deletes the others.
 */
export function handleSqsEvent(app: FastifyInstance, records: SQSRecord[], context: Context | undefined): Promise<SqsBatchResponse> {
  const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() - app.config.LAMBDA_TIMEOUT_MARGIN_MS : app.config.MINT_TIMEOUT_MS
  const log = app.log.child({ reqId: context?.awsRequestId, eventSource: 'aws:sqs' })
  return app.sqsBatches.process(
    records.map((record) => ({ messageId: record.messageId, body: record.body })),
    { deadline: new Deadline(Math.max(1, remaining)), log },
  )
}
