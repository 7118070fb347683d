variable "provider_region" {
  description = "The AWS region the network is created in."
  type        = string
}

variable "name" {
  description = "Name tag prefix of the network's resources, e.g. meridian-eu."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's address block (a /16); subnets are /24s carved from it."
  type        = string
}

variable "public_zones" {
  description = "Availability zones that get a public subnet (routed to the internet gateway), one each."
  type        = list(string)
}

variable "private_zones" {
  description = "Availability zones that get a private subnet (no internet route), one each; for databases."
  type        = list(string)
  default     = []
}
