variable "region_id" {
  description = "The Meridian region id (the Regions/<id>.yaml file name), e.g. eu."
  type        = string
}

variable "provider_region" {
  description = "The AWS region every machine, disk and network of this region is placed in (Regions/<id>.yaml provider_region). Nothing of the region is created anywhere else."
  type        = string
}

variable "mx_host" {
  description = "The region's MX host, <region>.mx.<zone>, that customers pinned to it publish."
  type        = string
}

variable "global_mx_host" {
  description = "The global MX host, mx.<zone>, for unpinned customers; this region answers for it where it is the lowest-latency region."
  type        = string
}

variable "dns_zone" {
  description = "The service DNS zone (service.yaml dns_zone); node names are <node-id>.nodes.<zone>."
  type        = string
}

variable "zone_id" {
  description = "Route 53 hosted zone id of dns_zone."
  type        = string
}

variable "node_ids" {
  description = "Ids of the region's nodes (Regions/<id>.yaml nodes[].id); one instance and one spool disk each, spread over availability zones."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "The region's VPC address block (a /16)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type of a node."
  type        = string
}

variable "spool_volume_gb" {
  description = "Size in GiB of each node's encrypted spool disk."
  type        = number
}

variable "artifact_url" {
  description = "HTTPS URL of the meridian release tarball the node downloads at boot."
  type        = string
}

variable "control_cidrs" {
  description = "CIDR blocks allowed to reach the node control API (the coordinator's address; mutual TLS admits only the coordinator's certificate anyway)."
  type        = list(string)
}

variable "control_port" {
  description = "TCP port of the node control API."
  type        = number
  default     = 9101
}

variable "probe_cidrs" {
  description = "CIDR blocks allowed to reach the probe port (control port + 10: /healthz, /metrics, /v1/status)."
  type        = list(string)
  default     = []
}

variable "coordinator_url" {
  description = "The coordinator's node port, https://HOST:8443, where nodes join and pull."
  type        = string
}
