output "lambda_function_name" {
  value = aws_lambda_function.id_minter_stepfunction.function_name
}

output "lambda_function_arn" {
  description = "What a state machine's Task Resource names."
  value       = aws_lambda_function.id_minter_stepfunction.arn
}

output "lambda_role_arn" {
  value = aws_iam_role.id_minter_stepfunction.arn
}

output "reprocess_window_schedule_arn" {
  description = "The EventBridge schedule that starts id-minter-reprocess-window."
  value       = aws_scheduler_schedule.reprocess_window.arn
}

output "state_machine_arns" {
  description = "ARN of each state machine, by name."
  value       = { for name, machine in aws_sfn_state_machine.id_minter : name => machine.arn }
}
