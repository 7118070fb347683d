"""Structural checks of Terraform/ that need no provider download (none can be fetched here).

They parse the HCL with python-hcl2 and hold the configuration to what Regions/*.yaml promises:
every region file has a module instance, every MX host has a DNS record, and nothing of a region
(storage, compute, network) is placed outside that region's own provider region.
"""

import fnmatch
import re
from pathlib import Path

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "Terraform"
REGIONS = ROOT / "Regions"

# Services that have no region: their resources are exempt from the placement rule.
GLOBAL_TYPES = ("aws_route53_", "aws_iam_")


def unquote(value):
    """python-hcl2 keeps quotes on labels and string literals; strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load(directory):
    """Every block of every .tf file in one module directory, merged by block type."""
    merged = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        for block_type, blocks in parsed.items():
            merged.setdefault(block_type, []).extend(blocks)
    return merged


def labelled(module, block_type):
    """{(type, name): body} for resources and data sources, {name: body} for modules and variables."""
    found = {}
    for block in module.get(block_type, []):
        for first, inner in block.items():
            first = unquote(first)
            if block_type in ("resource", "data"):
                for second, body in inner.items():
                    found[(first, unquote(second))] = body
            else:
                found[first] = inner
    return found


def region_files():
    return sorted(p for p in REGIONS.glob("*.yaml") if p.name != "service.yaml")


def load_yaml(path):
    with path.open() as handle:
        return yaml.safe_load(handle)


ROOT_MODULE = load(TERRAFORM)
REGION_MODULE = load(TERRAFORM / "modules" / "region")
COORDINATOR_MODULE = load(TERRAFORM / "modules" / "coordinator")
NETWORK_MODULE = load(TERRAFORM / "modules" / "network")
SERVICE = load_yaml(REGIONS / "service.yaml")


def region_module_call():
    modules = labelled(ROOT_MODULE, "module")
    assert "region" in modules, "the root configuration has no module \"region\""
    return modules["region"]


def test_every_region_file_has_a_module_instance():
    call = region_module_call()
    assert call["for_each"] == "${local.regions}", "module.region must be instantiated for_each local.regions"
    locals_ = {k: v for block in ROOT_MODULE["locals"] for k, v in block.items()}
    expression = locals_["regions"]
    # Evaluate the for expression's file selection the way Terraform would: fileset(dir, PATTERN) minus the
    # excluded name, keyed by the file name without .yaml, each value read with yamldecode(file(...)).
    pattern = re.search(r'fileset\(local\.regions_dir, "([^"]+)"\)', expression)
    excluded = re.search(r'if name != "([^"]+)"', expression)
    assert pattern and excluded and "yamldecode(file(" in expression, expression
    assert "../Regions" in locals_["regions_dir"]
    selected = sorted(
        p.stem for p in REGIONS.iterdir() if fnmatch.fnmatch(p.name, pattern.group(1)) and p.name != excluded.group(1)
    )
    assert selected == [p.stem for p in region_files()]
    assert selected, "no region files"
    # Every each.value.<key> the module call reads exists in every region file.
    used = set(re.findall(r"each\.value\.(\w+)", " ".join(str(v) for v in call.values())))
    for path in region_files():
        data = load_yaml(path)
        missing = used - set(data)
        assert not missing, f"{path.name} lacks {missing}, which module.region reads"


def test_every_mx_host_has_a_dns_record():
    call = region_module_call()
    assert call["mx_host"] == "${each.value.mx_host}"
    assert call["global_mx_host"] == "${local.service.mx_host}"
    records = {name: body for (kind, name), body in labelled(REGION_MODULE, "resource").items() if kind == "aws_route53_record"}
    names = {unquote(body["name"]) for body in records.values()}
    assert "${var.mx_host}" in names, "no record named var.mx_host in modules/region"
    assert "${var.global_mx_host}" in names, "no record named var.global_mx_host in modules/region"
    global_record = next(b for b in records.values() if unquote(b["name"]) == "${var.global_mx_host}")
    assert global_record["latency_routing_policy"][0]["region"] == "${var.provider_region}"
    assert global_record["set_identifier"] == "${var.region_id}"
    zone = SERVICE["dns_zone"]
    hosts = [load_yaml(p)["mx_host"] for p in region_files()] + [SERVICE["mx_host"]]
    assert len(set(hosts)) == len(hosts), "MX hosts must be distinct"
    for host in hosts:
        assert host.endswith("." + zone), f"{host} is not inside the zone {zone} that Terraform manages"


@pytest.mark.parametrize(
    "name,module", [("region", REGION_MODULE), ("coordinator", COORDINATOR_MODULE), ("network", NETWORK_MODULE)]
)
def test_nothing_is_placed_outside_its_provider_region(name, module):
    for call_name, call in labelled(module, "module").items():
        assert call.get("provider_region") == "${var.provider_region}", (
            f"modules/{name}: module.{call_name} does not pass provider_region through"
        )
    for kind in ("resource", "data"):
        for (type_, label), body in labelled(module, kind).items():
            if type_.startswith(GLOBAL_TYPES):
                continue
            assert body.get("region") == "${var.provider_region}", (
                f"modules/{name}: {kind} {type_}.{label} is not pinned to var.provider_region"
            )
    assert region_module_call()["provider_region"] == "${each.value.provider_region}"


def test_each_region_sits_in_a_provider_region_of_its_own_jurisdiction():
    prefixes = {"eu": "eu-", "us": "us-", "ap": "ap-"}
    for path in region_files():
        data = load_yaml(path)
        assert re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", data["provider_region"]), path.name
        if data["id"] in prefixes:
            assert data["provider_region"].startswith(prefixes[data["id"]]), (
                f"{path.name}: region {data['id']} placed in {data['provider_region']}"
            )


def test_database_backups_are_kept_ninety_days():
    resources = labelled(COORDINATOR_MODULE, "resource")
    plan = resources[("aws_backup_plan", "coordinator")]
    assert plan["rule"][0]["lifecycle"][0]["delete_after"] == "${var.backup_days}"
    assert labelled(ROOT_MODULE, "module")["coordinator"]["backup_days"] == 90
    database = resources[("aws_db_instance", "coordinator")]
    assert database["storage_encrypted"] is True
    assert ("aws_backup_selection", "coordinator") in resources


@pytest.mark.parametrize(
    "name,module",
    [("root", ROOT_MODULE), ("region", REGION_MODULE), ("coordinator", COORDINATOR_MODULE), ("network", NETWORK_MODULE)],
)
def test_every_variable_and_output_is_documented(name, module):
    for block_type in ("variable", "output"):
        for label, body in labelled(module, block_type).items():
            description = unquote(body.get("description", ""))
            assert len(description) > 10, f"{name}: {block_type} {label} has no description"


def test_module_calls_pass_every_required_variable():
    calls = [
        (labelled(ROOT_MODULE, "module")["region"], REGION_MODULE, "region"),
        (labelled(ROOT_MODULE, "module")["coordinator"], COORDINATOR_MODULE, "coordinator"),
        (labelled(REGION_MODULE, "module")["network"], NETWORK_MODULE, "region's network"),
        (labelled(COORDINATOR_MODULE, "module")["network"], NETWORK_MODULE, "coordinator's network"),
    ]
    for call, module, call_name in calls:
        for variable, body in labelled(module, "variable").items():
            if "default" not in body:
                assert variable in call, f"module.{call_name} does not set required variable {variable}"
        unknown = set(call) - set(labelled(module, "variable")) - {"source", "for_each", "count", "depends_on", "__is_block__"}
        assert not unknown, f"module.{call_name} sets variables the module does not declare: {unknown}"


def test_the_node_link_is_open_only_between_the_coordinator_and_its_nodes():
    """The control APIs admit the coordinator's address alone, the coordinator's node port the nodes' addresses
    alone; both are mutual TLS besides. Nodes join with a token from their own secret, never from Terraform state."""
    node_group = labelled(REGION_MODULE, "resource")[("aws_security_group", "node")]
    control = [rule for rule in node_group["ingress"] if rule["from_port"] == "${var.control_port}"]
    assert [rule["cidr_blocks"] for rule in control] == ["${var.control_cidrs}"]
    assert labelled(ROOT_MODULE, "module")["region"]["control_cidrs"] == ['"${module.coordinator.egress_ip}/32"']

    coordinator_group = labelled(COORDINATOR_MODULE, "resource")[("aws_security_group", "coordinator")]
    node_port = [rule for rule in coordinator_group["ingress"] if rule["from_port"] == "${var.node_port}"]
    assert [rule["cidr_blocks"] for rule in node_port] == ["${var.node_cidrs}"]
    assert "node_addresses" in labelled(ROOT_MODULE, "module")["coordinator"]["node_cidrs"]

    secret = labelled(REGION_MODULE, "resource")[("aws_secretsmanager_secret", "join_token")]
    assert "secret_string" not in secret, "the join token's value is the operator's, not in Terraform state"
    user_data = (TERRAFORM / "modules" / "region" / "node-user-data.sh.tftpl").read_text()
    assert "--coordinator ${coordinator_url}" in user_data and "MERIDIAN_JOIN_TOKEN" in user_data
    assert "node-token" not in user_data and "--trust-key" not in user_data


def test_the_coordinator_runs_as_a_role_that_cannot_cut_the_audit_log_short():
    # The running coordinator connects as meridian_app, which `migrate --service-role` limits to SELECT and INSERT
    # on audit_log; the owner's credentials are used only by the root-only migration step before each start.
    user_data = (TERRAFORM / "modules" / "coordinator" / "coordinator-user-data.sh.tftpl").read_text()
    assert "MERIDIAN_DATABASE=postgres://meridian_app:" in user_data
    assert "ExecStartPre=+/bin/sh -c '. /etc/meridian/owner-environment" in user_data
    assert "--service-role meridian_app" in user_data
    assert "chown meridian /etc/meridian/owner-environment" not in user_data
    resources = labelled(COORDINATOR_MODULE, "resource")
    assert ("aws_secretsmanager_secret", "service_role") in resources
