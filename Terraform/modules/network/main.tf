# A VPC with public subnets behind an internet gateway and, optionally, private subnets without one.
# Shared by the region and coordinator modules; everything sits in var.provider_region.

resource "aws_vpc" "this" {
  region               = var.provider_region
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

resource "aws_internet_gateway" "this" {
  region = var.provider_region
  vpc_id = aws_vpc.this.id
  tags   = { Name = var.name }
}

resource "aws_subnet" "public" {
  for_each                = { for index, zone in var.public_zones : zone => index }
  region                  = var.provider_region
  vpc_id                  = aws_vpc.this.id
  availability_zone       = each.key
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, each.value)
  map_public_ip_on_launch = true
  tags                    = { Name = "${var.name}-public-${each.key}" }
}

resource "aws_subnet" "private" {
  for_each          = { for index, zone in var.private_zones : zone => index }
  region            = var.provider_region
  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 128 + each.value)
  tags              = { Name = "${var.name}-private-${each.key}" }
}

resource "aws_route_table" "public" {
  region = var.provider_region
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table_association" "public" {
  for_each       = aws_subnet.public
  region         = var.provider_region
  subnet_id      = each.value.id
  route_table_id = aws_route_table.public.id
}
