variable "provider_region" {
  description = "AWS region of the coordinator, its PostgreSQL and its backups."
  type        = string
}

variable "dns_zone" {
  description = "The service DNS zone (service.yaml dns_zone)."
  type        = string
}

variable "zone_id" {
  description = "Route 53 hosted zone id of dns_zone."
  type        = string
}

variable "host_label" {
  description = "The coordinator's host name inside dns_zone: the admin API and the public pages are served at https://<host_label>.<dns_zone>."
  type        = string
  default     = "coordinator"
}

variable "vpc_cidr" {
  description = "The coordinator's VPC address block (a /16)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type of the coordinator."
  type        = string
}

variable "database_class" {
  description = "RDS instance class of the PostgreSQL database."
  type        = string
}

variable "database_storage" {
  description = "Allocated storage in GiB of the PostgreSQL database."
  type        = number
}

variable "database_multi_az" {
  description = "Run PostgreSQL with a synchronous standby in a second availability zone."
  type        = bool
  default     = false
}

variable "backup_days" {
  description = "How long database backups are kept, in days: 90 by the sources' backup policy (CipherMail). RDS keeps at most 35 days of automated backups, so AWS Backup keeps the daily snapshots for the full period."
  type        = number
  default     = 90
}

variable "artifact_url" {
  description = "HTTPS URL of the meridian release tarball the coordinator downloads at boot."
  type        = string
}


variable "node_port" {
  description = "TCP port of the coordinator's node port (mutual TLS)."
  type        = number
  default     = 8443
}

variable "node_cidrs" {
  description = "CIDR blocks of the nodes, the only addresses admitted to the node port."
  type        = list(string)
}
