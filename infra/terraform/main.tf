# The id-minter Lambda (the zip from `npm run build:lambda`), its role, and the Step Functions
# state machines in ../state-machines with the function's ARN substituted for ${lambda_arn}.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.aws_region
}

data "aws_caller_identity" "current" {}

locals {
  # Every name is one src/config.ts reads; unset (null or "") values are left out, so the
  # service's own defaults apply.
  lambda_environment_all = {
    cluster_url            = var.database_host
    cluster_url_readonly   = var.database_replica_host
    db_port                = tostring(var.database_port)
    db_username            = var.database_username
    db_password            = var.database_password
    max_connections        = tostring(var.max_connections)
    IDENTIFIERS_DATABASE   = var.identifiers_database
    APPLY_MIGRATIONS       = tostring(var.apply_migrations)
    es_upstream_host       = var.elasticsearch_host
    es_upstream_port       = tostring(var.elasticsearch_port)
    es_upstream_protocol   = var.elasticsearch_protocol
    es_apikey              = var.elasticsearch_apikey
    es_source_index        = var.source_index
    es_downstream_host     = coalesce(var.elasticsearch_downstream_host, var.elasticsearch_host)
    es_downstream_port     = tostring(var.elasticsearch_port)
    es_downstream_protocol = var.elasticsearch_protocol
    es_downstream_apikey   = var.elasticsearch_downstream_apikey
    es_downstream_username = var.elasticsearch_downstream_username
    es_downstream_password = var.elasticsearch_downstream_password
    es_identified_index    = var.identified_index
    metrics_namespace      = var.metrics_namespace
    LOG_LEVEL              = var.log_level
  }
  lambda_environment = { for name, value in local.lambda_environment_all : name => value if value != null && value != "" }

  state_machines = {
    "id-minter-mint-workflow"    = "mint-workflow.asl.json"
    "id-minter-batch-map"        = "batch-map.asl.json"
    "id-minter-retry-catch"      = "retry-catch.asl.json"
    "id-minter-reprocess-window" = "reprocess-window.asl.json"
    "id-minter-reprocess-full"   = "reprocess-full.asl.json"
  }
}

# ---- Lambda ----

resource "aws_iam_role" "id_minter_stepfunction" {
  name = "${var.function_name}-lambda"
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

resource "aws_iam_policy" "id_minter_stepfunction" {
  name = "${var.function_name}-lambda"
  policy = templatefile("${path.module}/../iam/id-minter-policy.json", {
    region               = var.aws_region
    account_id           = data.aws_caller_identity.current.account_id
    elasticsearch_domain = var.elasticsearch_domain
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "id_minter_stepfunction" {
  role       = aws_iam_role.id_minter_stepfunction.name
  policy_arn = aws_iam_policy.id_minter_stepfunction.arn
}

# Network interfaces in the VPC, when the function runs in one.
resource "aws_iam_role_policy_attachment" "vpc_access" {
  count      = length(var.subnet_ids) > 0 ? 1 : 0
  role       = aws_iam_role.id_minter_stepfunction.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_cloudwatch_log_group" "id_minter_stepfunction" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "id_minter_stepfunction" {
  function_name    = var.function_name
  role             = aws_iam_role.id_minter_stepfunction.arn
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  handler          = "index.handler"
  runtime          = "nodejs24.x"
  architectures    = [var.architecture]
  timeout          = var.timeout
  memory_size      = var.memory_size

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = local.lambda_environment
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  depends_on = [
    aws_iam_role_policy_attachment.id_minter_stepfunction,
    aws_iam_role_policy_attachment.vpc_access,
    aws_cloudwatch_log_group.id_minter_stepfunction,
  ]
  tags = var.tags
}

# ---- Step Functions ----

resource "aws_iam_role" "state_machine" {
  name = "${var.function_name}-states"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "states.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "state_machine_invoke" {
  name = "invoke-id-minter"
  role = aws_iam_role.state_machine.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = [aws_lambda_function.id_minter_stepfunction.arn, "${aws_lambda_function.id_minter_stepfunction.arn}:*"]
    }]
  })
}

resource "aws_sfn_state_machine" "id_minter" {
  for_each = local.state_machines
  name     = each.key
  role_arn = aws_iam_role.state_machine.arn
  definition = templatefile("${path.module}/../state-machines/${each.value}", {
    lambda_arn = aws_lambda_function.id_minter_stepfunction.arn
  })
  tags = var.tags
}

# ---- The scheduled window: id-minter-reprocess-window every 15 minutes ----

# EventBridge Scheduler passes the time each run was scheduled for (not when it fired), so
# consecutive runs cover consecutive windows, [T - 20 min, T - 5 min), with nothing between them.
resource "aws_iam_role" "reprocess_schedule" {
  name = "${var.function_name}-reprocess-schedule"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "reprocess_schedule_start" {
  name = "start-reprocess-window"
  role = aws_iam_role.reprocess_schedule.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "states:StartExecution"
      Resource = aws_sfn_state_machine.id_minter["id-minter-reprocess-window"].arn
    }]
  })
}

resource "aws_scheduler_schedule" "reprocess_window" {
  name                = "${var.function_name}-reprocess-window"
  schedule_expression = var.reprocess_window_schedule
  state               = var.reprocess_window_enabled ? "ENABLED" : "DISABLED"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_sfn_state_machine.id_minter["id-minter-reprocess-window"].arn
    role_arn = aws_iam_role.reprocess_schedule.arn
    input    = jsonencode({ scheduledTime = "<aws.scheduler.scheduled-time>" })
  }
}
