"""`meridian up` runs the coordinator and three nodes configured from it: each node is enrolled and joins over
the node port at the first start (and not again at the next), a customer created through the API gets mail sent
over STARTTLS (the self-signed certificate up made), and the coordinator finds it through the node, over mutual
TLS. The webhook secret reaches the node sealed to its region: the bundle it keeps shows it to nobody else,
and Python's own HPKE (RFC 9180) opens it with the region key the node got when it joined."""

import base64
import json
import os
import re
import signal
import subprocess

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import hpke
from standardwebhooks import Webhook

from harness import MERIDIAN, ROOT, WebhookSink, api, free_port, last_good_parts, wait_for


def opened_secrets(node_data):
    """The webhook secrets of the node's last-known-good config, opened as any HPKE implementation would: its
    snapshot and the deltas kept after it, each part's secrets sealed under a content key of its own."""
    region_key = X25519PrivateKey.from_private_bytes(base64.b64decode(open(os.path.join(node_data, "identity", "region.key")).read()))
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    secrets = {}
    for part in last_good_parts(node_data):
        for gone in part.get("removed_customers", []):
            secrets.pop(gone, None)
        if not part["customers"]:
            continue
        content_key = suite.decrypt(base64.b64decode(part["sealed_key"]), region_key, info=f"meridian bundle key v1 {part['region']}".encode())
        for customer in part["customers"]:
            assert "secret" not in customer["webhook"], customer
            sealed = base64.b64decode(customer["webhook"]["secret_sealed"])
            secrets[customer["id"]] = ChaCha20Poly1305(content_key).decrypt(sealed[:12], sealed[12:], customer["id"].encode()).decode()
    return secrets


def test_up_runs_three_nodes_that_deliver(tmp_path):
    sink = WebhookSink()
    data = str(tmp_path / "data")
    offset = free_port() % 20000 + 2000  # below the ephemeral range, where outgoing connections could hold a port
    up = subprocess.Popen([MERIDIAN, "up", "--data-dir", data, "--port-offset", str(offset)], cwd=ROOT,
                          stdout=open(tmp_path / "up.log", "wb"), stderr=subprocess.STDOUT)
    try:
        log = lambda: open(tmp_path / "up.log").read()
        wait_for(lambda: "stop         Ctrl-C" in log(), timeout=30, what="the up banner")
        for region, port in (("eu", 2525), ("us", 2526), ("ap", 2527)):
            assert f"{region}  smtp 127.0.0.1:{port + offset}" in log()
        token = open(f"{data}/admin-token").read().strip()
        status, created = api(8080 + offset, "POST", "/v1/customers", token, {
            "name": "Up", "contact_email": "ops@up.example", "region": "eu", "domains": ["up.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "queued"}})
        assert status == 201, created
        cid = created["customer"]["id"]
        wait_for(lambda: "region=eu [MeridianNode] node: applied config version 2 from a" in log(), what="the push")
        result = subprocess.run(["swaks", "--server", f"127.0.0.1:{2525 + offset}", "--tls", "--to", "hi@up.example",
                                 "--from", "s@sender.example"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "250 2.0.0 Queued as" in result.stdout, result.stdout
        wait_for(lambda: sink.posts("/ok"), what="the webhook POST")
        post = sink.posts("/ok")[0]
        secret = created["webhook_secret"]
        payload = Webhook(secret).verify(post["body"], {k.lower(): v for k, v in post["headers"].items()})
        assert payload["envelope"]["tls"] is True, "signed with the customer's own secret, opened on the node"
        for kept in ("bundle.last-good.json", "bundle.last-good.json.deltas"):
            text = open(os.path.join(data, "node-eu", kept)).read()
            payloads = [base64.b64decode(match).decode() for match in re.findall(r'"payload":"([^"]+)"', text)]
            assert payloads and secret not in text and not any(secret in payload for payload in payloads), kept
        assert opened_secrets(os.path.join(data, "node-eu")) == {cid: secret}
        wait_for(lambda: api(8080 + offset, "GET", f"/v1/customers/{cid}/messages", token)[1].get("messages"), what="the metadata")
        status, page = api(8080 + offset, "GET", f"/v1/customers/{cid}/messages", token)
        assert status == 200 and page["messages"][0]["region"] == "eu", page
        status, listed = api(8080 + offset, "GET", "/v1/nodes", token)
        assert [(n["id"], n["enrollment"]) for n in listed["nodes"]] == [("ap-1", "active"), ("eu-1", "active"), ("us-1", "active")]
        assert all(n["control_url"].startswith("https://127.0.0.1:") and n["certificate_expires_at"] for n in listed["nodes"])
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=40) == 0
        assert log().count("node link: node") == 3 and log().count("it joins the coordinator now") == 3

        # The second start finds the nodes joined: no new enrollment, and they are in sync again.
        up = subprocess.Popen([MERIDIAN, "up", "--data-dir", data, "--port-offset", str(offset)], cwd=ROOT,
                              stdout=open(tmp_path / "up2.log", "wb"), stderr=subprocess.STDOUT)
        wait_for(lambda: "stop         Ctrl-C" in open(tmp_path / "up2.log").read(), timeout=30, what="the second banner")
        wait_for(lambda: [n["state"] for n in api(8080 + offset, "GET", "/v1/nodes", token)[1]["nodes"]] == ["in_sync"] * 3,
                 what="the nodes in sync after the restart")
        assert "joins the coordinator now" not in open(tmp_path / "up2.log").read()
        status, audit = api(8080 + offset, "GET", "/v1/audit?limit=1000", token)
        assert sum(1 for e in audit["items"] if e["action"] == "node.join") == 3
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=40) == 0
    finally:
        if up.poll() is None:
            up.kill()
        sink.close()
