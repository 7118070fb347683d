output "api_url" {
  description = "The coordinator's HTTPS URL."
  value       = "https://${aws_route53_record.coordinator.name}"
}

output "egress_ip" {
  description = "The coordinator's fixed public address, from which it reaches the nodes' control APIs."
  value       = aws_eip.coordinator.public_ip
}

output "database_endpoint" {
  description = "The PostgreSQL endpoint (host:port), reachable from the coordinator only."
  value       = aws_db_instance.coordinator.endpoint
}

output "master_key_secret_arn" {
  description = "The Secrets Manager secret the operator fills with the master key (base64 of 32 bytes)."
  value       = aws_secretsmanager_secret.master_key.arn
}

output "node_url" {
  description = "The coordinator's node port, as nodes are started with it (--coordinator)."
  value       = "https://${aws_route53_record.node_port.name}:${var.node_port}"
}
