"""Makes what the schemathesis run needs on a fresh coordinator, with its first admin token: a customer and its
token, a DPO token, and a token for revokeToken to revoke. Prints them as shell exports for
Tests/schemathesis/schemathesis.toml.

Usage: prepare.py URL ADMIN-TOKEN"""

import json
import sys
import urllib.request


def call(url, token, method, path, body):
    request = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode())
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def main():
    url, admin = sys.argv[1], sys.argv[2]
    customer = call(url, admin, "POST", "/v1/customers", {
        "name": "Schemathesis", "contact_email": "ops@schemathesis.example", "domains": ["schemathesis.example"],
        "webhook": {"url": "https://hooks.schemathesis.example/in", "mode": "queued"}})["customer"]["id"]
    customer_token = call(url, admin, "POST", "/v1/tokens", {"name": "schemathesis customer", "role": "customer", "customer_id": customer})
    dpo = call(url, admin, "POST", "/v1/tokens", {"name": "schemathesis dpo", "role": "dpo"})
    security = call(url, admin, "POST", "/v1/tokens", {"name": "schemathesis security", "role": "security"})
    revocable = call(url, admin, "POST", "/v1/tokens", {"name": "schemathesis revokes this one", "role": "auditor"})
    for name, value in [("ADMIN_TOKEN", admin), ("CUSTOMER_ID", customer), ("CUSTOMER_TOKEN", customer_token["secret"]),
                        ("DPO_TOKEN", dpo["secret"]), ("SECURITY_TOKEN", security["secret"]),
                        ("REVOCABLE_TOKEN_ID", revocable["token"]["id"])]:
        print(f"export SCHEMATHESIS_{name}={value}")


if __name__ == "__main__":
    main()
