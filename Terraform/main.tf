# The root configuration: one region module per Regions/<id>.yaml and one coordinator, all driven by the
# same YAML files the coordinator and the nodes read. Adding a region means adding a YAML file.

provider "aws" {
  region = var.home_region
}

locals {
  regions_dir = coalesce(var.regions_dir, "${path.root}/../Regions")
  service     = yamldecode(file("${local.regions_dir}/service.yaml"))
  regions = {
    for name in fileset(local.regions_dir, "*.yaml") :
    trimsuffix(name, ".yaml") => yamldecode(file("${local.regions_dir}/${name}"))
    if name != "service.yaml"
  }
  region_ids = sort(keys(local.regions))
}

resource "aws_route53_zone" "service" {
  count = var.create_dns_zone ? 1 : 0
  name  = local.service.dns_zone
}

data "aws_route53_zone" "service" {
  count = var.create_dns_zone ? 0 : 1
  name  = local.service.dns_zone
}

locals {
  zone_id = var.create_dns_zone ? aws_route53_zone.service[0].zone_id : data.aws_route53_zone.service[0].zone_id
}

module "coordinator" {
  source = "./modules/coordinator"

  provider_region  = var.home_region
  dns_zone         = local.service.dns_zone
  zone_id          = local.zone_id
  vpc_cidr         = cidrsubnet(var.network_cidr, 8, 255)
  instance_type    = var.coordinator_instance_type
  database_class   = var.database_instance_class
  database_storage = var.database_storage_gb
  backup_days      = 90
  artifact_url     = var.meridian_artifact_url
  node_cidrs       = flatten([for region in module.region : [for address in values(region.node_addresses) : "${address}/32"]])
}

module "region" {
  source   = "./modules/region"
  for_each = local.regions

  region_id       = each.key
  provider_region = each.value.provider_region
  mx_host         = each.value.mx_host
  global_mx_host  = local.service.mx_host
  dns_zone        = local.service.dns_zone
  zone_id         = local.zone_id
  node_ids        = [for node in each.value.nodes : node.id]
  vpc_cidr        = cidrsubnet(var.network_cidr, 8, index(local.region_ids, each.key))
  instance_type   = var.node_instance_type
  spool_volume_gb = var.spool_volume_gb
  artifact_url    = var.meridian_artifact_url
  control_cidrs   = ["${module.coordinator.egress_ip}/32"]
  probe_cidrs     = var.admin_cidrs
  coordinator_url = module.coordinator.node_url
}
