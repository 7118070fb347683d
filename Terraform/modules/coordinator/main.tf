# The coordinator: one EC2 instance running `meridian coordinator` behind an HTTPS load balancer, on an RDS
# PostgreSQL whose daily backups AWS Backup keeps for var.backup_days (90). Every resource that holds data or
# computes carries `region = var.provider_region`; IAM and Route 53 are global.

data "aws_availability_zones" "available" {
  region = var.provider_region
  state  = "available"
}

data "aws_ssm_parameter" "debian" {
  region = var.provider_region
  name   = "/aws/service/debian/release/12/latest/amd64"
}

locals {
  zones = slice(data.aws_availability_zones.available.names, 0, 2)
  host  = "${var.host_label}.${var.dns_zone}"
  # The name nodes reach the coordinator's node port by (the instance's Elastic IP; mutual TLS, no load balancer).
  node_host = "${var.host_label}.nodes.${var.dns_zone}"
}

# MARK: network: public subnets (load balancer, coordinator) and private ones (database) in two zones

module "network" {
  source          = "../network"
  provider_region = var.provider_region
  name            = "meridian-coordinator"
  vpc_cidr        = var.vpc_cidr
  public_zones    = local.zones
  private_zones   = local.zones
}

resource "aws_security_group" "load_balancer" {
  region      = var.provider_region
  name        = "meridian-coordinator-lb"
  description = "HTTPS from anywhere: admin API, customer pages, public pages"
  vpc_id      = module.network.vpc_id

  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = [var.vpc_cidr]
  }
}

resource "aws_security_group" "coordinator" {
  region      = var.provider_region
  name        = "meridian-coordinator"
  description = "The coordinator's HTTP port from the load balancer only"
  vpc_id      = module.network.vpc_id

  ingress {
    from_port       = 8080
    to_port         = 8080
    protocol        = "tcp"
    security_groups = [aws_security_group.load_balancer.id]
  }

  ingress {
    description = "node port: joins, renewals, pulls and reports over mutual TLS, from the nodes only"
    from_port   = var.node_port
    to_port     = var.node_port
    protocol    = "tcp"
    cidr_blocks = var.node_cidrs
  }

  egress {
    description = "config push to nodes, PostgreSQL, package and artifact downloads"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "database" {
  region      = var.provider_region
  name        = "meridian-database"
  description = "PostgreSQL from the coordinator only"
  vpc_id      = module.network.vpc_id

  ingress {
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.coordinator.id]
  }
}

# MARK: PostgreSQL and its backups

resource "aws_db_subnet_group" "coordinator" {
  region     = var.provider_region
  name       = "meridian-coordinator"
  subnet_ids = module.network.private_subnet_ids
}

resource "aws_db_instance" "coordinator" {
  region                      = var.provider_region
  identifier                  = "meridian-coordinator"
  engine                      = "postgres"
  engine_version              = "16"
  instance_class              = var.database_class
  allocated_storage           = var.database_storage
  storage_encrypted           = true
  db_name                     = "meridian"
  username                    = "meridian"
  manage_master_user_password = true
  db_subnet_group_name        = aws_db_subnet_group.coordinator.name
  vpc_security_group_ids      = [aws_security_group.database.id]
  multi_az                    = var.database_multi_az
  backup_retention_period     = min(var.backup_days, 35)
  copy_tags_to_snapshot       = true
  deletion_protection         = true
  final_snapshot_identifier   = "meridian-coordinator-final"
  tags                        = { "meridian:backup" = "coordinator" }
}

resource "aws_backup_vault" "coordinator" {
  region = var.provider_region
  name   = "meridian-coordinator"
}

resource "aws_backup_plan" "coordinator" {
  region = var.provider_region
  name   = "meridian-coordinator"

  rule {
    rule_name         = "daily-kept-${var.backup_days}-days"
    target_vault_name = aws_backup_vault.coordinator.name
    schedule          = "cron(0 3 * * ? *)"

    lifecycle {
      delete_after = var.backup_days
    }
  }
}

resource "aws_iam_role" "backup" {
  name = "meridian-backup"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "backup.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "backup" {
  role       = aws_iam_role.backup.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
}

resource "aws_backup_selection" "coordinator" {
  region       = var.provider_region
  name         = "meridian-coordinator-database"
  plan_id      = aws_backup_plan.coordinator.id
  iam_role_arn = aws_iam_role.backup.arn
  resources    = [aws_db_instance.coordinator.arn]
}

# MARK: the coordinator itself

# The master key that seals secrets at rest. Terraform creates the secret, never its value: the operator
# puts 32 random bytes in it (docs/deploying.md), so the key is not in Terraform state.
resource "aws_secretsmanager_secret" "master_key" {
  region = var.provider_region
  name   = "meridian/master-key"
}

# The password of `meridian_app`, the database role the coordinator runs as: it may read and write every table
# but only read and append to the audit log (`meridian coordinator migrate --service-role`), so the running
# coordinator's credentials cannot cut the log short. The owner role (RDS's master user) only migrates, at
# each start, from a root-only file. As with the master key, the operator puts the value in (docs/deploying.md).
resource "aws_secretsmanager_secret" "service_role" {
  region = var.provider_region
  name   = "meridian/database-service-role"
}

resource "aws_iam_role" "coordinator" {
  name = "meridian-coordinator"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy" "coordinator_secrets" {
  name = "read-meridian-secrets"
  role = aws_iam_role.coordinator.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = "secretsmanager:GetSecretValue"
      Resource = [
        aws_secretsmanager_secret.master_key.arn, aws_secretsmanager_secret.service_role.arn,
        aws_db_instance.coordinator.master_user_secret[0].secret_arn,
      ]
    }]
  })
}

resource "aws_iam_instance_profile" "coordinator" {
  name = "meridian-coordinator"
  role = aws_iam_role.coordinator.name
}

resource "aws_instance" "coordinator" {
  region                 = var.provider_region
  ami                    = data.aws_ssm_parameter.debian.value
  instance_type          = var.instance_type
  subnet_id              = module.network.public_subnet_ids[local.zones[0]]
  vpc_security_group_ids = [aws_security_group.coordinator.id]
  iam_instance_profile   = aws_iam_instance_profile.coordinator.name

  metadata_options {
    http_tokens = "required"
  }

  root_block_device {
    encrypted = true
  }

  user_data = templatefile("${path.module}/coordinator-user-data.sh.tftpl", {
    artifact_url      = var.artifact_url
    aws_region        = var.provider_region
    database_host     = aws_db_instance.coordinator.address
    database_secret   = aws_db_instance.coordinator.master_user_secret[0].secret_arn
    master_key_secret = aws_secretsmanager_secret.master_key.arn
    service_secret    = aws_secretsmanager_secret.service_role.arn
    node_host         = local.node_host
    node_port         = var.node_port
  })

  tags = { Name = "meridian-coordinator" }
}

# The coordinator's fixed outbound address: nodes admit their control API from it alone.
resource "aws_eip" "coordinator" {
  region = var.provider_region
  domain = "vpc"
}

resource "aws_eip_association" "coordinator" {
  region        = var.provider_region
  allocation_id = aws_eip.coordinator.id
  instance_id   = aws_instance.coordinator.id
}

# MARK: HTTPS in front

resource "aws_acm_certificate" "coordinator" {
  region            = var.provider_region
  domain_name       = local.host
  validation_method = "DNS"
}

resource "aws_route53_record" "certificate_validation" {
  for_each = { for option in aws_acm_certificate.coordinator.domain_validation_options : option.domain_name => option }
  zone_id  = var.zone_id
  name     = each.value.resource_record_name
  type     = each.value.resource_record_type
  ttl      = 300
  records  = [each.value.resource_record_value]
}

resource "aws_acm_certificate_validation" "coordinator" {
  region                  = var.provider_region
  certificate_arn         = aws_acm_certificate.coordinator.arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}

resource "aws_lb" "coordinator" {
  region             = var.provider_region
  name               = "meridian-coordinator"
  load_balancer_type = "application"
  subnets            = values(module.network.public_subnet_ids)
  security_groups    = [aws_security_group.load_balancer.id]
}

resource "aws_lb_target_group" "coordinator" {
  region   = var.provider_region
  name     = "meridian-coordinator"
  port     = 8080
  protocol = "HTTP"
  vpc_id   = module.network.vpc_id

  health_check {
    path = "/healthz"
  }
}

resource "aws_lb_target_group_attachment" "coordinator" {
  region           = var.provider_region
  target_group_arn = aws_lb_target_group.coordinator.arn
  target_id        = aws_instance.coordinator.id
}

resource "aws_lb_listener" "https" {
  region            = var.provider_region
  load_balancer_arn = aws_lb.coordinator.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.coordinator.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.coordinator.arn
  }
}

resource "aws_route53_record" "coordinator" {
  zone_id = var.zone_id
  name    = local.host
  type    = "A"

  alias {
    name                   = aws_lb.coordinator.dns_name
    zone_id                = aws_lb.coordinator.zone_id
    evaluate_target_health = true
  }
}

# <host_label>.nodes.<zone>: the coordinator's node port, at its Elastic IP. Its certificate (from the coordinator
# CA, pinned by each node's join token) names this host.
resource "aws_route53_record" "node_port" {
  zone_id = var.zone_id
  name    = local.node_host
  type    = "A"
  ttl     = 300
  records = [aws_eip.coordinator.public_ip]
}
