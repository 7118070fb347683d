"""A node applies only bundles signed by the Ed25519 key its enrollment names (the coordinator's, given when it
joined): a tampered, unsigned or stranger's bundle is refused and the one in force stays; a restart over an
unusable file starts from the last-known-good. The bundles are signed here with the stock openssl CLI,
independently of Meridian's own signing code."""

import base64
import json
import os
import subprocess
import time

from harness import TEST_EGRESS, Node, WebhookSink, customer, send, wait_for
from pki import PKI_SHARED


def keypair(directory):
    key = os.path.join(directory, "signing.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    raw = der[-32:]  # the SubjectPublicKeyInfo of an Ed25519 key ends with the 32 raw bytes
    return key, base64.b64encode(raw).decode()


def signed(key, public, bundle, directory):
    payload = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
    path = os.path.join(directory, "payload.json")
    open(path, "wb").write(payload)
    signature = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", path],
                               check=True, capture_output=True).stdout
    import hashlib
    key_id = hashlib.sha256(base64.b64decode(public)).hexdigest()[:16]
    return {"key_id": key_id, "payload": base64.b64encode(payload).decode(), "signature": base64.b64encode(signature).decode()}


def write(node, envelope):
    tmp = node.bundle_path + ".tmp"
    open(tmp, "w").write(json.dumps(envelope))
    os.replace(tmp, node.bundle_path)


def status(node):
    return json.loads(node.probe("/v1/status")[2])


def test_only_signed_bundles_apply_and_the_last_good_one_survives(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    key, public = keypair(work)
    node = None
    try:
        # The node's enrollment names the openssl key as the coordinator's.
        PKI_SHARED.write_identity(os.path.join(work, "node"), "eu", "eu-1", 9101, bundle_public=public)
        node = Node(work, [], write_bundle=False)
        assert status(node)["config_version"] == 0

        v1 = {"version": 1, "region": "eu", "customers": [customer("cus_a", "a.example", sink.url("/ok"))], "egress": TEST_EGRESS}
        write(node, signed(key, public, v1, work))
        wait_for(lambda: status(node)["config_version"] == 1, what="the signed bundle applied")
        assert send(node.smtp_port, rcpt="x@a.example")[0] == 250

        # Tampered: the webhook URL changed after signing.
        v2 = signed(key, public, dict(v1, version=2), work)
        payload = base64.b64decode(v2["payload"]).replace(b"127.0.0.1", b"203.0.113.9")
        v2["payload"] = base64.b64encode(payload).decode()
        write(node, v2)
        wait_for(lambda: "the signature does not verify" in open(node.log_path).read(), what="the tampered bundle refused")
        # Unsigned, and signed by another key.
        write(node, dict(v1, version=3))
        other_key, other_public = keypair(os.path.join(work, "Regions"))
        write(node, signed(other_key, other_public, dict(v1, version=4), work))
        wait_for(lambda: "but this node trusts key" in open(node.log_path).read(), what="the stranger's bundle refused")
        time.sleep(1.2)
        assert status(node)["config_version"] == 1

        # Restart over an unusable file: the node starts from the last-known-good bundle.
        node.stop()
        open(node.bundle_path, "w").write("{ not json")
        node.start()
        assert status(node)["config_version"] == 1
        assert "starting from the last-known-good, version 1" in open(node.log_path).read()
        assert send(node.smtp_port, rcpt="y@a.example")[0] == 250

        # Without a last-known-good, an unsigned bundle keeps the node from starting, with the reason.
        node.stop()
        os.remove(os.path.join(node.data, "bundle.last-good.json"))
        node.write_raw(json.dumps({"version": 5, "region": "eu", "customers": []}))
        result = subprocess.run(node.args, capture_output=True, text=True, timeout=30)
        assert result.returncode != 0 and "expected a signed bundle" in result.stderr
    finally:
        if node:
            node.stop()
        sink.close()
