output "mx_hosts" {
  description = "Per region, the MX host customers pinned to it publish; plus the global one for unpinned customers."
  value = merge(
    { for id, region in module.region : id => region.mx_host },
    { global = local.service.mx_host },
  )
}

output "node_control_endpoints" {
  description = "Per region, the control API URLs of its nodes (config push, metadata queries, GDPR directives)."
  value       = { for id, region in module.region : id => region.node_control_endpoints }
}

output "coordinator_url" {
  description = "The coordinator's public URL: admin API under /v1 and the public pages."
  value       = module.coordinator.api_url
}

output "name_servers" {
  description = "The hosted zone's name servers, to delegate service.yaml dns_zone to at its registrar."
  value       = var.create_dns_zone ? aws_route53_zone.service[0].name_servers : data.aws_route53_zone.service[0].name_servers
}
