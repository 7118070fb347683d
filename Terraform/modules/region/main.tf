# One Meridian region: its nodes, their spool disks, and its DNS. Every regional resource carries
# `region = var.provider_region`, so the region's mail and metadata stay in its own provider region; the
# structural test (Tests/terraform) fails if one does not. Route 53 is global and takes no region.

data "aws_availability_zones" "available" {
  region = var.provider_region
  state  = "available"
}

data "aws_ssm_parameter" "debian" {
  region = var.provider_region
  name   = "/aws/service/debian/release/12/latest/amd64"
}

locals {
  zones = data.aws_availability_zones.available.names
  nodes = { for index, id in var.node_ids : id => { index = index, zone = local.zones[index % length(local.zones)] } }
}

# MARK: network

module "network" {
  source          = "../network"
  provider_region = var.provider_region
  name            = "meridian-${var.region_id}"
  vpc_cidr        = var.vpc_cidr
  public_zones    = distinct([for node in local.nodes : node.zone])
}

resource "aws_security_group" "node" {
  region      = var.provider_region
  name        = "meridian-${var.region_id}-node"
  description = "SMTP from anywhere; the control API from the coordinator only; the probe port from monitoring"
  vpc_id      = module.network.vpc_id

  ingress {
    description = "SMTP"
    from_port   = 25
    to_port     = 25
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "node control API (mutual TLS)"
    from_port   = var.control_port
    to_port     = var.control_port
    protocol    = "tcp"
    cidr_blocks = var.control_cidrs
  }

  dynamic "ingress" {
    for_each = length(var.probe_cidrs) > 0 ? [1] : []
    content {
      description = "probe port: /healthz, /metrics, /v1/status"
      from_port   = var.control_port + 10
      to_port     = var.control_port + 10
      protocol    = "tcp"
      cidr_blocks = var.probe_cidrs
    }
  }

  egress {
    description = "webhooks, DSNs via the smarthost, the coordinator"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# MARK: each node's join token

# The one-time join token of each node. Terraform creates the secret, never its value: the operator enrolls the
# node (meridian nodes enroll REGION ID --control-url https://ID.nodes.ZONE:PORT) and puts the token in it; the
# node reads it at each start until it has joined (docs/deploying.md). A spent token is worthless.
resource "aws_secretsmanager_secret" "join_token" {
  for_each = local.nodes
  region   = var.provider_region
  name     = "meridian/join/${each.key}"
}

resource "aws_iam_role" "node" {
  name = "meridian-node-${var.region_id}"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy" "node_join_token" {
  name = "read-meridian-join-tokens"
  role = aws_iam_role.node.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "secretsmanager:GetSecretValue"
      Resource = [for secret in aws_secretsmanager_secret.join_token : secret.arn]
    }]
  })
}

resource "aws_iam_instance_profile" "node" {
  name = "meridian-node-${var.region_id}"
  role = aws_iam_role.node.name
}

# MARK: nodes and their spool disks

resource "aws_instance" "node" {
  for_each               = local.nodes
  region                 = var.provider_region
  ami                    = data.aws_ssm_parameter.debian.value
  instance_type          = var.instance_type
  availability_zone      = each.value.zone
  subnet_id              = module.network.public_subnet_ids[each.value.zone]
  vpc_security_group_ids = [aws_security_group.node.id]
  iam_instance_profile   = aws_iam_instance_profile.node.name

  metadata_options {
    http_tokens = "required"
  }

  root_block_device {
    encrypted = true
  }

  user_data = templatefile("${path.module}/node-user-data.sh.tftpl", {
    artifact_url    = var.artifact_url
    aws_region      = var.provider_region
    region_id       = var.region_id
    node_id         = each.key
    control_port    = var.control_port
    coordinator_url = var.coordinator_url
    join_secret     = aws_secretsmanager_secret.join_token[each.key].arn
  })

  tags = { Name = each.key, "meridian:region" = var.region_id }
}

resource "aws_ebs_volume" "spool" {
  for_each          = local.nodes
  region            = var.provider_region
  availability_zone = each.value.zone
  size              = var.spool_volume_gb
  type              = "gp3"
  encrypted         = true
  tags              = { Name = "${each.key}-spool", "meridian:region" = var.region_id }
}

resource "aws_volume_attachment" "spool" {
  for_each    = local.nodes
  region      = var.provider_region
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.spool[each.key].id
  instance_id = aws_instance.node[each.key].id
}

resource "aws_eip" "node" {
  for_each = local.nodes
  region   = var.provider_region
  domain   = "vpc"
  instance = aws_instance.node[each.key].id
  tags     = { Name = each.key }
}

# MARK: DNS

# <region>.mx.<zone>: every node of the region, equal weight; pinned customers' MX points here.
resource "aws_route53_record" "mx_host" {
  zone_id = var.zone_id
  name    = var.mx_host
  type    = "A"
  ttl     = 300
  records = [for node in aws_eip.node : node.public_ip]
}

# This region's share of mx.<zone>: Route 53 answers each resolver with its lowest-latency region.
resource "aws_route53_record" "global_mx" {
  zone_id        = var.zone_id
  name           = var.global_mx_host
  type           = "A"
  ttl            = 60
  set_identifier = var.region_id
  records        = [for node in aws_eip.node : node.public_ip]

  latency_routing_policy {
    region = var.provider_region
  }
}

# <node-id>.nodes.<zone>: how the coordinator names a node's control API.
resource "aws_route53_record" "node" {
  for_each = local.nodes
  zone_id  = var.zone_id
  name     = "${each.key}.nodes.${var.dns_zone}"
  type     = "A"
  ttl      = 300
  records  = [aws_eip.node[each.key].public_ip]
}
