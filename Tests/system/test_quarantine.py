"""The quarantine end to end, with real processes: a coordinator, an eu node beside a real rspamd, a customer
whose policy quarantines spam (GTUBE), and the customer's own token (and support's, under a grant) listing,
previewing, releasing and deleting through the coordinator's API, which asks the node that holds the mail.
Then retention under an injected clock: the node restarted 15 days ahead (libfaketime) deletes what is left."""

import os
import subprocess
import time

import pytest
from standardwebhooks import Webhook

from harness import (MERIDIAN, DNSZone, RegionNode, Rspamd, WebhookSink, api, first_admin, free_port, message, prove_domains, send,
                     start_coordinator, wait_for)

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory):
    dns = DNSZone()
    engine = Rspamd(str(tmp_path_factory.mktemp("rspamd")), dns)
    yield engine
    engine.stop()
    dns.close()


def test_quarantine_hold_preview_release_delete_and_expire(tmp_path, rspamd):
    sink = WebhookSink()
    work = str(tmp_path)
    port = free_port()
    coordinator, data = start_coordinator(work, port)
    node = None
    try:
        admin = first_admin(data, port)
        node = RegionNode(work, "eu", coordinator, admin, port, extra=("--rspamd", rspamd.url))
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Acme", "contact_email": "ops@acme.example", "region": "eu", "domains": ["acme.example"],
            "webhook": {"url": sink.url("/in"), "mode": "queued"}, "events_url": sink.url("/events")})
        assert status == 201, created
        cid = prove_domains(port, admin, created["customer"])
        customer = api(port, "POST", "/v1/tokens", admin, {"name": "acme", "role": "customer", "customer_id": cid})[1]["secret"]
        support = api(port, "POST", "/v1/tokens", admin, {"name": "helpdesk", "role": "support"})[1]["secret"]
        before = api(port, "GET", "/v1/nodes", admin)[1]["config_version"]
        status, policy = api(port, "PUT", f"/v1/customers/{cid}/filtering", customer, {"spam_mode": "quarantine"})
        assert status == 200 and policy["spam_mode"] == "quarantine", policy
        settled = []

        def applied():
            # A version published after the change, applied by the node, and no newer one for half a second.
            newest = api(port, "GET", "/v1/nodes", admin)[1]["config_version"]
            settled.append(newest if newest > before and node.status()["config_version"] == newest else None)
            time.sleep(0.25)
            return len(settled) >= 3 and settled[-1] is not None and settled[-1] == settled[-2] == settled[-3]
        wait_for(applied, what="the policy's config version on the node")

        code, text = send(node.smtp, rcpt="inbox@acme.example", subject="Cheap watches", body=GTUBE + "\nBuy now.\n")
        assert code == 250 and "Held as" in text, text
        held_id = text.split("Held as ")[1].strip()
        code, text = send(node.smtp, rcpt="inbox@acme.example", subject="More watches", body=GTUBE + "\n")
        deleted_id = text.split("Held as ")[1].strip()
        assert send(node.smtp, rcpt="inbox@acme.example", subject="Lunch?", body="Tomorrow at noon?\n")[0] == 250
        wait_for(lambda: len(sink.posts("/in")) == 1, what="the clean message delivered")
        time.sleep(0.5)
        assert len(sink.posts("/in")) == 1, "held mail is not delivered"
        # Each held message is announced to the events URL, signed with the account's secret.
        wait_for(lambda: len(sink.posts("/events")) == 2, what="two message.quarantined events")
        events = [Webhook(created["webhook_secret"]).verify(p["body"], {k.lower(): v for k, v in p["headers"].items()}) for p in sink.posts("/events")]
        assert {e["type"] for e in events} == {"message.quarantined"}
        assert sorted(e["data"]["message_id"] for e in events) == sorted([held_id, deleted_id])
        assert all(e["data"]["status"] == "quarantined" and "spam score" in e["data"]["reason"] and e["data"]["region"] == "eu" for e in events)

        # Listed from the region that holds it; the node's metric counts it.
        status, listed = api(port, "GET", f"/v1/customers/{cid}/quarantine", customer)
        assert status == 200, listed
        assert sorted(m["message_id"] for m in listed["messages"]) == sorted([held_id, deleted_id])
        assert all(m["status"] == "quarantined" and m["region"] == "eu" and "spam score" in m["final_reason"] for m in listed["messages"])
        assert "meridian_quarantine_messages{region=\"eu\"} 2" in node_metrics(node)
        cli = subprocess.run([MERIDIAN, "quarantine", "list", cid, "--url", f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                             env=dict(os.environ, MERIDIAN_TOKEN=customer), timeout=60)
        assert cli.returncode == 0 and held_id in cli.stdout and "Cheap watches" in cli.stdout, cli.stdout + cli.stderr

        # Operators see none of it; support only under the customer's grant.
        assert api(port, "GET", f"/v1/customers/{cid}/quarantine", admin)[0] == 403
        assert api(port, "GET", f"/v1/customers/{cid}/quarantine", support)[0] == 403
        status, grant = api(port, "POST", f"/v1/customers/{cid}/access-grants", customer, {"reason": "check my quarantine", "duration_hours": 1})
        assert status == 201, grant
        status, preview = api(port, "GET", f"/v1/customers/{cid}/quarantine/{held_id}", support)
        assert status == 200, preview
        assert preview["reason"].startswith("held in quarantine: spam score")
        assert {"name": "Subject", "value": "Cheap watches"} in preview["headers"]
        assert "Buy now." in preview["text"] and preview["scan"]["spam"]["action"] == "reject"
        assert api(port, "GET", f"/v1/customers/{cid}/quarantine/eml_nothere", customer)[0] == 404

        # Release delivers now through the normal path; delete never delivers.
        status, released = api(port, "POST", f"/v1/customers/{cid}/quarantine/release", customer, {"message_ids": [held_id, "eml_nothere"]})
        assert status == 200, released
        assert [(o["message_id"], o["result"]) for o in released["outcomes"]] == [(held_id, "released"), ("eml_nothere", "not_found")]
        wait_for(lambda: len(sink.posts("/in")) == 2, what="the released message delivered")
        post = sink.posts("/in")[-1]
        payload = Webhook(created["webhook_secret"]).verify(post["body"], {k.lower(): v for k, v in post["headers"].items()})
        assert payload["headers"]["subject"] == "Cheap watches" and payload["envelope"]["spamd"]["spam"] is True
        cli = subprocess.run([MERIDIAN, "quarantine", "delete", cid, deleted_id, "--url", f"http://127.0.0.1:{port}"], capture_output=True,
                             text=True, env=dict(os.environ, MERIDIAN_TOKEN=support), timeout=60)
        assert cli.returncode == 0 and f"{deleted_id}: deleted" in cli.stdout, cli.stdout + cli.stderr
        assert api(port, "POST", f"/v1/customers/{cid}/quarantine/release", customer, {"message_ids": [deleted_id]})[1]["outcomes"][0]["result"] == "not_found"
        wait_for(lambda: {m["message_id"]: m["status"] for m in node.messages(cid)}.get(held_id) == "delivered", what="the release in the log")
        log = {m["message_id"]: m for m in node.messages(cid)}
        assert log[deleted_id]["status"] == "discarded" and "deleted from quarantine by support" in log[deleted_id]["final_reason"]
        status, body = api(port, "POST", f"/v1/customers/{cid}/quarantine/release", customer, {"message_ids": []})
        assert status in (400, 422), body

        # Every read and action is in the audit log.
        status, audit = api(port, "GET", "/v1/audit?limit=500", admin)
        actions = [(e["action"], e["actor_role"]) for e in audit["items"] if e["target"] == cid]
        for expected in [("customer.quarantine.read", "customer"), ("customer.quarantine.preview", "support"),
                         ("customer.quarantine.release", "customer"), ("customer.quarantine.delete", "support")]:
            assert expected in actions, (expected, actions)

        # Retention: held 15 days later, under an injected clock, the rest is deleted at the node's start.
        code, text = send(node.smtp, rcpt="inbox@acme.example", subject="Old spam", body=GTUBE + "\n")
        old_id = text.split("Held as ")[1].strip()
        node.stop()
        sealed = os.path.join(work, "node-eu", "quarantine", f"{old_id}.sealed")
        assert os.path.exists(sealed)
        assert b"Old spam" not in open(sealed, "rb").read(), "held mail is encrypted at rest"
        node.wrapper = ("faketime", "-f", "+15d")
        node.start()
        wait_for(lambda: not os.path.exists(sealed), what="the retention job deleting the expired message")
        # Back on the real clock (15 days ahead, the node's certificate looks expired to its TLS), the log says why.
        node.stop()
        node.wrapper = ()
        node.start()
        log = {m["message_id"]: m for m in node.messages(cid)}
        assert log[old_id]["status"] == "discarded" and "quarantine period" in log[old_id]["final_reason"]
    finally:
        if node:
            node.stop()
        coordinator.terminate()
        coordinator.wait(timeout=30)
        sink.close()


def node_metrics(node):
    from harness import fetch
    return fetch(f"http://127.0.0.1:{node.probe}/metrics")[2].decode()
