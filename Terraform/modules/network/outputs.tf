output "vpc_id" {
  description = "The VPC's id."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnet id by availability zone."
  value       = { for zone, subnet in aws_subnet.public : zone => subnet.id }
}

output "private_subnet_ids" {
  description = "Private subnet ids, in private_zones order."
  value       = [for zone in var.private_zones : aws_subnet.private[zone].id]
}
