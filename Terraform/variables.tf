variable "home_region" {
  description = "AWS region of the provider's default configuration: where the coordinator, its PostgreSQL and its backups live. Regional nodes never use it; each is placed by its Regions/<id>.yaml provider_region."
  type        = string
  default     = "eu-west-2"
}

variable "regions_dir" {
  description = "Path to the Regions directory. Every <id>.yaml in it (all but service.yaml) becomes one region module instance."
  type        = string
  default     = null
}

variable "create_dns_zone" {
  description = "Create the Route 53 hosted zone named by service.yaml dns_zone. Set false to use an existing zone with that name."
  type        = bool
  default     = true
}

variable "node_instance_type" {
  description = "EC2 instance type of a regional SMTP node."
  type        = string
  default     = "t3.small"
}

variable "spool_volume_gb" {
  description = "Size in GiB of each node's encrypted spool disk (queued mail waits here until delivered, at most queue.message_lifetime)."
  type        = number
  default     = 50
}

variable "meridian_artifact_url" {
  description = "HTTPS URL of the meridian Linux x86_64 release tarball that nodes and the coordinator download at boot."
  type        = string
}

variable "coordinator_instance_type" {
  description = "EC2 instance type of the coordinator."
  type        = string
  default     = "t3.small"
}

variable "database_instance_class" {
  description = "RDS instance class of the coordinator's PostgreSQL."
  type        = string
  default     = "db.t4g.small"
}

variable "database_storage_gb" {
  description = "Allocated storage in GiB of the coordinator's PostgreSQL."
  type        = number
  default     = 20
}

variable "admin_cidrs" {
  description = "CIDR blocks allowed to reach the nodes' probe ports (health, status, metrics; no personal data), e.g. the monitoring network. Only the coordinator reaches the control APIs (mutual TLS). Empty by default."
  type        = list(string)
  default     = []
}

variable "network_cidr" {
  description = "The address block carved into one /16 VPC per region (in Regions file order) and one for the coordinator."
  type        = string
  default     = "10.0.0.0/8"
}
