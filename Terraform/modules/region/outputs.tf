output "mx_host" {
  description = "The region's MX host; an A record with every node's address."
  value       = aws_route53_record.mx_host.name
}

output "node_control_endpoints" {
  description = "The control API URL of each node, by DNS name: the --control-url to enroll it with."
  value       = [for id, record in aws_route53_record.node : "https://${record.name}:${var.control_port}"]
}

output "node_addresses" {
  description = "Public IPv4 address of each node, by node id."
  value       = { for id, eip in aws_eip.node : id => eip.public_ip }
}

output "join_token_secrets" {
  description = "The Secrets Manager secret of each node's join token, by node id."
  value       = { for id, secret in aws_secretsmanager_secret.join_token : id => secret.arn }
}
