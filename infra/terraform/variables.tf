variable "aws_region" {
  description = "Region to deploy into."
  type        = string
}

variable "function_name" {
  description = "Name of the Lambda function (the state machines invoke it)."
  type        = string
  default     = "id-minter-stepfunction"
}

variable "lambda_zip" {
  description = "The bundle built by `npm run build:lambda`."
  type        = string
  default     = "../../dist/id-minter-lambda.zip"
}

variable "memory_size" {
  description = "Lambda memory in MB (512-1024 depending on batch size)."
  type        = number
  default     = 1024
}

variable "timeout" {
  description = "Lambda timeout in seconds; a batch of 100 takes 15-30 s. The state machines' task timeout (40 s) is above it."
  type        = number
  default     = 30
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for the function, to stay within the database's connection limit (each holds up to max_connections connections per pool); -1 for no reservation."
  type        = number
  default     = -1
}

variable "architecture" {
  description = "x86_64 or arm64: the bundle is plain JavaScript and runs on either."
  type        = string
  default     = "x86_64"
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "subnet_ids" {
  description = "Subnets to run the function in, when the database is only reachable from a VPC; empty for none."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  type    = list(string)
  default = []
}

# ---- Database (MySQL) ----

variable "database_host" {
  description = "cluster_url: MySQL primary host; writes and migrations run here."
  type        = string
}

variable "database_replica_host" {
  description = "cluster_url_readonly: read replica for look-ups; the primary when null."
  type        = string
  default     = null
}

variable "database_port" {
  type    = number
  default = 3306
}

variable "database_username" {
  type = string
}

variable "database_password" {
  type      = string
  sensitive = true
  default   = ""
}

variable "max_connections" {
  description = "Connection pool size per pool, per Lambda instance."
  type        = number
  default     = 10
}

variable "identifiers_database" {
  description = "IDENTIFIERS_DATABASE: the schema holding the identifier tables."
  type        = string
  default     = "identifiers"
}

variable "apply_migrations" {
  description = "APPLY_MIGRATIONS: create the schema if missing and apply the bundled migrations at cold start."
  type        = bool
  default     = false
}

# ---- Elasticsearch ----

variable "elasticsearch_host" {
  description = "Host of the source and target Elasticsearch (es_upstream_host, es_downstream_host)."
  type        = string
}

variable "elasticsearch_downstream_host" {
  description = "Target Elasticsearch host, when it differs from elasticsearch_host."
  type        = string
  default     = null
}

variable "elasticsearch_port" {
  type    = number
  default = 9200
}

variable "elasticsearch_protocol" {
  type    = string
  default = "https"
}

variable "elasticsearch_apikey" {
  description = "es_apikey: API key for the source Elasticsearch."
  type        = string
  sensitive   = true
  default     = null
}

variable "elasticsearch_downstream_apikey" {
  description = "es_downstream_apikey: API key for the target Elasticsearch."
  type        = string
  sensitive   = true
  default     = null
}

variable "elasticsearch_downstream_username" {
  type    = string
  default = null
}

variable "elasticsearch_downstream_password" {
  type      = string
  sensitive = true
  default   = null
}

variable "elasticsearch_domain" {
  description = "Domain name used in the es:ESHttp* permission (an Amazon OpenSearch Service domain)."
  type        = string
  default     = "elasticsearch-domain"
}

variable "source_index" {
  description = "es_source_index: index the source works are read from."
  type        = string
}

variable "identified_index" {
  description = "es_identified_index: index the identified works are written to."
  type        = string
}

variable "metrics_namespace" {
  type    = string
  default = "id-minter"
}

variable "log_level" {
  type    = string
  default = "info"
}

variable "tags" {
  type    = map(string)
  default = {}
}

# ---- Reprocessing ----

variable "reprocess_window_schedule" {
  description = "When the scheduled window runs (EventBridge Scheduler expression, UTC): every 15 minutes, each run minting the works indexed in [scheduled time - 20 min, scheduled time - 5 min). Windows are 15 minutes long, so a schedule of another period leaves gaps or overlaps."
  type        = string
  default     = "cron(0/15 * * * ? *)"
}

variable "reprocess_window_enabled" {
  description = "Whether the scheduled window runs (false keeps the schedule, disabled, for example during a full reindex)."
  type        = bool
  default     = true
}
