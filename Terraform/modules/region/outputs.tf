output "mx_host" {
  description = "The region's MX host; an A record with every node's address."
  value       = aws_route53_record.mx_host.name
}

output "node_control_endpoints" {
  description = "The control API URL of each node, by DNS name."
  value       = [for id, record in aws_route53_record.node : "http://${record.name}:${var.control_port}"]
}

output "node_addresses" {
  description = "Public IPv4 address of each node, by node id."
  value       = { for id, eip in aws_eip.node : id => eip.public_ip }
}
