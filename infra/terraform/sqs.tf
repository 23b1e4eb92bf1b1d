# The SQS interface (the spec's other Lambda), deployed beside the Step Functions one from the same
# zip and handler: src/lambda.ts answers an SQS batch with {batchItemFailures}. An input queue with
# a dead-letter queue, the event source mapping that feeds the function (ReportBatchItemFailures,
# so only the failed messages return to the queue), and the downstream queue each minted work's
# canonical ID is sent to. The role has the Step Functions Lambda's policy (database,
# Elasticsearch, logs) and ../iam/id-minter-sqs-policy.json (the queues).

variable "sqs_function_name" {
  description = "Name of the SQS Lambda function."
  type        = string
  default     = "id-minter-sqs"
}

variable "sqs_timeout" {
  description = "SQS Lambda timeout in seconds; a batch of sqs_batch_size messages is minted 100 at a time within it (less LAMBDA_TIMEOUT_MARGIN_MS)."
  type        = number
  default     = 120
}

variable "input_queue_name" {
  description = "The queue of source identifiers (one per message, plain or in an SNS envelope)."
  type        = string
  default     = "id-minter-input"
}

variable "downstream_queue_name" {
  description = "The queue the canonical ID of each minted work is sent to (downstream_queue_url)."
  type        = string
  default     = "id-minter-downstream"
}

variable "sqs_batch_size" {
  description = "Most messages per invocation (1-10000; over 10 needs a batching window of at least 1 s)."
  type        = number
  default     = 100
  validation {
    condition     = var.sqs_batch_size >= 1 && var.sqs_batch_size <= 10000
    error_message = "sqs_batch_size must be between 1 and 10000."
  }
}

variable "sqs_batching_window_seconds" {
  description = "Seconds the event source mapping gathers messages before invoking (0-300)."
  type        = number
  default     = 5
  validation {
    condition     = var.sqs_batching_window_seconds >= 0 && var.sqs_batching_window_seconds <= 300
    error_message = "sqs_batching_window_seconds must be between 0 and 300."
  }
}

variable "sqs_maximum_concurrency" {
  description = "Most concurrent invocations the event source mapping makes (2-1000): each holds up to max_connections database connections per pool."
  type        = number
  default     = 5
  validation {
    condition     = var.sqs_maximum_concurrency >= 2 && var.sqs_maximum_concurrency <= 1000
    error_message = "sqs_maximum_concurrency must be between 2 and 1000."
  }
}

variable "sqs_max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  type        = number
  default     = 3
}

# ---- Queues ----

resource "aws_sqs_queue" "input_dead_letter" {
  name                      = "${var.input_queue_name}-dlq"
  message_retention_seconds = 1209600 # 14 days, the most SQS keeps a message: time for a person to look
  tags                      = var.tags
}

resource "aws_sqs_queue" "input" {
  name = var.input_queue_name
  # AWS's advice for an event source mapping: at least six times the function timeout, plus the batching window.
  visibility_timeout_seconds = 6 * var.sqs_timeout + var.sqs_batching_window_seconds
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.input_dead_letter.arn
    maxReceiveCount     = var.sqs_max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue" "downstream" {
  name = var.downstream_queue_name
  tags = var.tags
}

# ---- The SQS Lambda ----

resource "aws_iam_role" "id_minter_sqs" {
  name = "${var.sqs_function_name}-lambda"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "id_minter_sqs_base" {
  role       = aws_iam_role.id_minter_sqs.name
  policy_arn = aws_iam_policy.id_minter_stepfunction.arn
}

resource "aws_iam_policy" "id_minter_sqs" {
  name = "${var.sqs_function_name}-queues"
  policy = templatefile("${path.module}/../iam/id-minter-sqs-policy.json", {
    input_queue_arn      = aws_sqs_queue.input.arn
    downstream_queue_arn = aws_sqs_queue.downstream.arn
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "id_minter_sqs" {
  role       = aws_iam_role.id_minter_sqs.name
  policy_arn = aws_iam_policy.id_minter_sqs.arn
}

resource "aws_iam_role_policy_attachment" "id_minter_sqs_vpc_access" {
  count      = length(var.subnet_ids) > 0 ? 1 : 0
  role       = aws_iam_role.id_minter_sqs.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_cloudwatch_log_group" "id_minter_sqs" {
  name              = "/aws/lambda/${var.sqs_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "id_minter_sqs" {
  function_name    = var.sqs_function_name
  role             = aws_iam_role.id_minter_sqs.arn
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  handler          = "index.handler"
  runtime          = "nodejs24.x"
  architectures    = [var.architecture]
  timeout          = var.sqs_timeout
  memory_size      = var.memory_size

  environment {
    # The Step Functions function's configuration, and the downstream queue.
    variables = merge(local.lambda_environment, {
      use_downstream       = "sqs"
      downstream_queue_url = aws_sqs_queue.downstream.url
    })
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  depends_on = [
    aws_iam_role_policy_attachment.id_minter_sqs_base,
    aws_iam_role_policy_attachment.id_minter_sqs,
    aws_iam_role_policy_attachment.id_minter_sqs_vpc_access,
    aws_cloudwatch_log_group.id_minter_sqs,
  ]
  tags = var.tags
}

# Without ReportBatchItemFailures, Lambda ignores batchItemFailures: a batch with one failure is
# retried whole, and a normal return deletes every message.
resource "aws_lambda_event_source_mapping" "id_minter_input" {
  event_source_arn                   = aws_sqs_queue.input.arn
  function_name                      = aws_lambda_function.id_minter_sqs.arn
  batch_size                         = var.sqs_batch_size
  maximum_batching_window_in_seconds = var.sqs_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.sqs_maximum_concurrency
  }
}

output "sqs_lambda_function_arn" {
  value = aws_lambda_function.id_minter_sqs.arn
}

output "input_queue_url" {
  description = "Where to send source identifiers."
  value       = aws_sqs_queue.input.url
}

output "input_dead_letter_queue_url" {
  description = "Messages that failed sqs_max_receive_count times, for a person to look at."
  value       = aws_sqs_queue.input_dead_letter.url
}

output "downstream_queue_url" {
  description = "Where the canonical IDs of minted works arrive."
  value       = aws_sqs_queue.downstream.url
}
