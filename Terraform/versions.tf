terraform {
  required_version = ">= 1.5.0"

  required_providers {
    # 6.0 brought the per-resource `region` argument: one provider configuration places each region's
    # resources in that region's own provider region, so regions can come from a for_each over Regions/.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0.0, < 7.0.0"
    }
  }
}
