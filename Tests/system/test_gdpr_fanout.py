"""Data-subject directives end to end across three regions, with real processes: a coordinator and one
`meridian node` per region (eu, us, ap), each with its own store and spool. Mail from one subject lands in two
regions; an access ticket gives one ZIP with every region's data; an erasure ticket stays in progress while a
region is down, completes once it is back, and leaves the subject's metadata gone everywhere except what a legal
hold keeps, with the reason in the receipt."""

import base64
import io
import json
import os
import re
import sqlite3
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from harness import MERIDIAN, ROOT, RegionNode, WebhookSink, api, first_admin, free_port, http, prove_domains, send, start_coordinator, wait_for

SUBJECT = "alice@example.org"


def ticket(port, admin, dpo, type_):
    """Opens a ticket for the subject, has the dpo record a proof of identity, and starts it."""
    status, created = api(port, "POST", "/v1/gdpr-requests", admin, {"type": type_, "regulation": "gdpr", "subject": {"email": SUBJECT}})
    assert status == 201, created
    status, verified = api(port, "POST", f"/v1/gdpr-requests/{created['id']}/verify", dpo, {"method": "document", "reason": "passport seen"})
    assert status == 200 and verified["state"] == "verified", verified
    status, started = api(port, "PATCH", f"/v1/gdpr-requests/{created['id']}", admin, {"state": "in_progress"})
    assert status == 200, started
    return created["id"]


def state(port, token, ticket_id):
    status, body = api(port, "GET", f"/v1/gdpr-requests/{ticket_id}", token)
    assert status == 200, body
    return body


def cli(port, token, *args, check=True):
    result = subprocess.run([MERIDIAN, "gdpr", *args], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, MERIDIAN_TOKEN=token, MERIDIAN_URL=f"http://127.0.0.1:{port}"))
    assert not check or result.returncode == 0, result.stdout + result.stderr
    return result


def by_place(answers, region):
    return [answer for answer in answers if answer["region"] == region]


def counts(answer, data_class):
    return next(c for c in answer["classes"] if c["data_class"] == data_class)


def test_access_and_erasure_reach_every_region(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    port = free_port()
    coordinator, data = start_coordinator(work, port)
    nodes = {}
    try:
        admin = first_admin(data, port)
        status, token = api(port, "POST", "/v1/tokens", admin, {"name": "dpo", "role": "dpo"})
        assert status == 201, token
        dpo = token["secret"]
        status, token = api(port, "POST", "/v1/tokens", admin, {"name": "auditor", "role": "auditor"})
        assert status == 201, token
        auditor = token["secret"]

        def customer(name, region, path):
            status, created = api(port, "POST", "/v1/customers", admin, {
                "name": name, "contact_email": f"ops@{name}.example", "region": region, "domains": [f"{name}.example"],
                "webhook": {"url": sink.url(path), "mode": "queued"}})
            assert status == 201, created
            return prove_domains(port, admin, created["customer"])

        acme, umbrella = customer("acme", "eu", "/ok"), customer("umbrella", "us", "/ok")
        # Two customers whose webhooks are down: the subject's mail to them waits in the spool.
        waiting_eu, held_us = customer("initech", "eu", "/fail"), customer("hooli", "us", "/fail")

        for region in ("eu", "us", "ap"):
            nodes[region] = RegionNode(work, region, coordinator, admin, port)

        def in_sync():
            listed = api(port, "GET", "/v1/nodes", admin)[1]
            return len(listed["nodes"]) == 3 and all(node["state"] == "in_sync" for node in listed["nodes"])
        wait_for(in_sync, timeout=60, what="three nodes in sync")

        eu, us = nodes["eu"], nodes["us"]
        assert send(eu.smtp, sender=SUBJECT, rcpt="x@acme.example")[0] == 250
        assert send(eu.smtp, sender="bob@example.org", rcpt="x@acme.example")[0] == 250
        assert send(eu.smtp, sender=SUBJECT, rcpt="w@initech.example")[0] == 250
        assert send(us.smtp, sender="carol@example.org", rcpt=SUBJECT.replace("example.org", "umbrella.example"))[0] == 250
        assert send(us.smtp, sender=SUBJECT, rcpt="y@umbrella.example")[0] == 250
        assert send(us.smtp, sender=SUBJECT, rcpt="v@hooli.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok")) == 4, what="the deliveries")
        wait_for(lambda: len(sink.posts("/fail")) >= 2, what="the first attempts of the waiting messages")

        # A write the ap node's database refused, kept beside it (MetadataStore), is the subject's metadata too.
        set_aside = os.path.join(work, "node-ap", "metadata-rejected.jsonl")
        with open(set_aside, "w") as lines:
            for sender in (SUBJECT.upper(), "bob@example.org"):
                lines.write(json.dumps({"at": int(time.time() * 1000), "error": "constraint failed",
                                        "write": {"record": {"_0": {"metadata": {"envelope_from": sender}}}}}) + "\n")

        # Access: one ZIP with the subject's data from the coordinator and from every region.
        access = ticket(port, admin, dpo, "access")
        wait_for(lambda: state(port, admin, access)["state"] == "completed", timeout=60, what="the access request completed")
        status, _ = http("GET", f"http://127.0.0.1:{port}/v1/gdpr-requests/{access}/export", admin)
        assert status == 403, "only the dpo downloads the subject's data"
        status, body = http("GET", f"http://127.0.0.1:{port}/v1/gdpr-requests/{access}/export", dpo)
        assert status == 200, body
        archive = zipfile.ZipFile(io.BytesIO(body))
        names = archive.namelist()
        assert "summary.txt" in names and "summary.json" in names and "coordinator/notifications.json" in names
        for region, found in (("eu", 2), ("us", 2), ("ap", 0)):
            [metadata] = [n for n in names if n.startswith(f"{region}/") and n.endswith("/message_metadata.json")]
            records = json.loads(archive.read(metadata))
            assert len(records) == found, (region, records)
            assert all(r["metadata"]["envelope_from"] == SUBJECT for r in records)
        [kept] = [n for n in names if n.endswith("/message_metadata_set_aside.json")]
        assert kept.startswith("ap/") and [w["write"]["record"]["_0"]["metadata"]["envelope_from"] for w in json.loads(archive.read(kept))] == [SUBJECT.upper()]
        [spooled] = [n for n in names if n.startswith("eu/") and n.endswith("/spooled_messages.json")]
        assert json.loads(archive.read(spooled))[0]["recipients"] == ["w@initech.example"]
        summary = archive.read("summary.txt").decode()
        assert access in summary and SUBJECT in summary and "region ap" in summary
        exported = cli(port, dpo, "export", access, "--out", str(tmp_path / "access.zip"))
        assert "wrote" in exported.stdout and zipfile.ZipFile(tmp_path / "access.zip").namelist() == names
        refused = cli(port, admin, "export", access, check=False)
        assert refused.returncode != 0 and "403" in refused.stderr + refused.stdout

        # Each node signed its receipt; an auditor checks them against the node CA kept on the coordinator's disk.
        node_ca = os.path.join(data, "node-ca.pem")
        checked = cli(port, auditor, "verify-receipts", access, "--node-ca", node_ca)
        assert "3 signed receipts verify against the node CA" in checked.stdout, checked.stdout
        for region in ("eu", "us", "ap"):
            assert re.search(rf"{region} +{region}-1 +verified +spiffe://[^ ]+/region/{region}/node/{region}-1 serial [0-9a-f]+", checked.stdout), checked.stdout
        assert re.search(r"coordinator +coordinator +unsigned", checked.stdout)
        assert re.search(r"region eu, node eu-1: answered .*\n    receipt signed by spiffe://[^ ]+/region/eu/node/eu-1 serial", summary), summary
        # The signed receipts the coordinator keeps name the records' SHA-256, never the records themselves.
        with sqlite3.connect(os.path.join(data, "coordinator.sqlite")) as db:
            kept = [row[0] for row in db.execute("SELECT receipt_signed FROM gdpr_answers WHERE request_id = ? AND place != 'coordinator'", (access,))]
        assert len(kept) == 3 and all(SUBJECT not in base64.b64decode(json.loads(row)["statement"]).decode() for row in kept)
        other_ca = tmp_path / "other-ca.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                        str(tmp_path / "other-ca.key"), "-out", str(other_ca), "-days", "1", "-subj", "/CN=another CA"], check=True, capture_output=True)
        wrong_ca = cli(port, auditor, "verify-receipts", access, "--node-ca", str(other_ca), check=False)
        assert wrong_ca.returncode == 1 and wrong_ca.stdout.count("not issued by the node CA") == 3, wrong_ca.stdout

        # An open legal request holds one account's data.
        status, legal = api(port, "POST", "/v1/legal-requests", admin, {
            "received_on": "2026-11-20", "authority": "District court", "country": "US", "kind": "preservation_request",
            "customer_ids": [held_us]})
        assert status == 201 and legal["customer_ids"] == [held_us], legal
        status, problem = api(port, "POST", "/v1/legal-requests", admin, {
            "received_on": "2026-11-20", "authority": "X", "country": "US", "kind": "subpoena", "customer_ids": ["cus_nobody"]})
        assert status == 422 and "cus_nobody" in problem["detail"]

        # Erasure with the ap region down: the ticket waits for it, then completes when it is back.
        nodes["ap"].stop()
        erasure = ticket(port, admin, dpo, "erasure")
        wait_for(lambda: any(a["status"] == "failed" for a in by_place(state(port, admin, erasure)["answers"], "ap")),
                 timeout=60, what="a failed try in the region that is down")
        current = state(port, admin, erasure)
        assert current["state"] == "in_progress"
        assert all(a["status"] == "answered" for a in current["answers"] if a["region"] in ("eu", "us", "coordinator")), current["answers"]
        status, problem = api(port, "PATCH", f"/v1/gdpr-requests/{erasure}", admin, {"state": "completed"})
        assert status == 409 and "every region has answered" in problem["detail"]
        nodes["ap"].start()
        wait_for(lambda: state(port, admin, erasure)["state"] == "completed", timeout=90, what="the erasure completed once ap is back")

        answers = state(port, admin, erasure)["answers"]
        [eu_answer], [us_answer], [ap_answer] = by_place(answers, "eu"), by_place(answers, "us"), by_place(answers, "ap")
        assert counts(eu_answer, "message_metadata") == {"data_class": "message_metadata", "found": 2, "erased": 2, "held": 0, "hold_reasons": []}
        assert counts(eu_answer, "spooled_messages")["erased"] == 1
        assert counts(eu_answer, "delivery_logs")["erased"] >= 2
        us_metadata = counts(us_answer, "message_metadata")
        assert (us_metadata["found"], us_metadata["erased"], us_metadata["held"]) == (2, 1, 1)
        assert legal["id"] in us_metadata["hold_reasons"][0] and "open legal request" in us_metadata["hold_reasons"][0]
        assert counts(us_answer, "spooled_messages")["held"] == 1
        assert ap_answer["attempts"] >= 2
        assert counts(ap_answer, "message_metadata") == {"data_class": "message_metadata", "found": 1, "erased": 1, "held": 0, "hold_reasons": []}
        assert SUBJECT not in open(set_aside).read().lower() and "bob@example.org" in open(set_aside).read()

        shown = cli(port, admin, "show", erasure).stdout
        assert "completed" in shown and f"held: data under an open legal request ({legal['id']}" in shown
        assert re.search(r"receipt of eu/eu-1 signed by spiffe://[^ ]+/region/eu/node/eu-1 serial", shown), shown

        # The subject's metadata is gone in each region; other senders' and the held account's stay.
        assert eu.messages(acme, sender=SUBJECT) == [] and eu.messages(waiting_eu, sender=SUBJECT) == []
        assert len(eu.messages(acme, sender="bob@example.org")) == 1
        assert us.messages(umbrella, sender=SUBJECT) == []
        assert len(us.messages(held_us, sender=SUBJECT)) == 1
        # The erased spooled message left the spool; the held one waits for its next attempt.
        assert eu.status()["queue"]["spooled_recipients"] == 0
        assert us.status()["queue"]["spooled_recipients"] == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{us.probe}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        age = next(line for line in metrics.splitlines() if line.startswith('meridian_queue_oldest_seconds{region="us"}'))
        assert float(age.split()[-1]) > 0, "the held message has been waiting"
        assert api(port, "POST", "/v1/canary", dpo, {})[0] == 201
        scrape = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
        scrape.add_header("Authorization", "Bearer " + open(os.path.join(data, "metrics-token")).read().strip())
        with urllib.request.urlopen(scrape, timeout=10) as response:
            coordinator_metrics = response.read().decode()
        assert 'meridian_nodes{state="in_sync"} 3' in coordinator_metrics and "meridian_gdpr_requests_open 0" in coordinator_metrics
        # Every metric the documented alerts and the dashboard read is one these processes serve.
        assert send(us.smtp, rcpt="nobody@unknown.example")[0] >= 400
        served = set(re.findall(r"^(meridian_[a-z_]+)", coordinator_metrics, re.M))
        for node in nodes.values():
            with urllib.request.urlopen(f"http://127.0.0.1:{node.probe}/metrics", timeout=10) as response:
                served |= set(re.findall(r"^(meridian_[a-z_]+)", response.read().decode(), re.M))
        for doc in ("docs/alerts.yaml", "docs/dashboard.json"):
            used = set(re.findall(r"meridian_[a-z_]+", open(os.path.join(ROOT, doc)).read()))
            assert used <= served, (doc, used - served)

        # The request record stays (accountability) and the audit log has the receipts.
        audit = api(port, "GET", "/v1/audit?limit=1000", admin)[1]
        actions = [entry["action"] for entry in audit["items"] if entry["target"] == erasure]
        assert actions.count("gdpr_request.answer") == 4 and "gdpr_request.transition" in actions
        assert cli(port, dpo, "verify-receipts", erasure).returncode == 0

        # Whoever changes a kept receipt afterwards (here: eu's count of erased records) is caught.
        with sqlite3.connect(os.path.join(data, "coordinator.sqlite")) as db:
            [(text,)] = db.execute("SELECT receipt_signed FROM gdpr_answers WHERE request_id = ? AND place = 'eu-1'", (erasure,))
            kept = json.loads(text)
            statement = json.loads(base64.b64decode(kept["statement"]))
            statement["classes"][0]["erased"] += 5
            kept["statement"] = base64.b64encode(json.dumps(statement, sort_keys=True).encode()).decode()
            db.execute("UPDATE gdpr_answers SET receipt_signed = ? WHERE request_id = ? AND place = 'eu-1'", (json.dumps(kept), erasure))
        tampered = cli(port, auditor, "verify-receipts", erasure, check=False)
        assert tampered.returncode == 1 and "1 receipt FAILED" in tampered.stdout, tampered.stdout
        assert re.search(r"eu +eu-1 +FAILED: the signature does not verify", tampered.stdout), tampered.stdout
    finally:
        for node in nodes.values():
            if node.process.poll() is None:
                node.process.kill()
        coordinator.terminate()
        coordinator.wait(timeout=30)
        sink.close()


class FakeNode:
    """What the shared token allowed before node identity: a server of the attacker's at a node's control URL that
    answers every directive with "found 2, erased 2". It holds a real node certificate, stolen from another node
    (us-1), so the TLS handshake succeeds on loopback, and signs its forged receipt with that node's key."""

    def __init__(self, port, stolen_identity):
        pem = open(os.path.join(stolen_identity, "node.pem")).read()
        key = serialization.load_pem_private_key(pem[pem.index("-----BEGIN PRIVATE KEY"):].encode(), password=None)
        certificate = pem[:pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n"
        self.directives = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                envelope = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                directive = json.loads(base64.b64decode(envelope["payload"]))
                fake.directives.append(directive)
                statement = json.dumps({
                    "request_id": directive["request_id"], "action": directive["action"], "region": "eu", "node": "eu-1",
                    "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "classes": [{"data_class": "message_metadata", "found": 2, "erased": 2, "held": 0, "hold_reasons": []}],
                }, sort_keys=True).encode()
                receipt = {"receipt": {"statement": base64.b64encode(statement).decode(), "certificate": certificate,
                                       "signature": base64.b64encode(key.sign(statement, ec.ECDSA(hashes.SHA256()))).decode()}}
                body = json.dumps(receipt).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(stolen_identity, "node.pem"))
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_directive_answered_by_anything_but_the_enrolled_node_is_not_counted(tmp_path):
    """eu-1 joined and went down; what answers at its control URL is an attacker's server with us-1's certificate
    and key. Its "found 2, erased 2" is refused (signed by us-1, not eu-1), audited, and the ticket keeps waiting for
    the eu region; the build before counted it and completed the ticket."""
    work = str(tmp_path)
    port = free_port()
    coordinator, data = start_coordinator(work, port)
    nodes, fake = [], None
    try:
        admin = first_admin(data, port)
        nodes = [RegionNode(work, region, coordinator, admin, port) for region in ("eu", "us", "ap")]
        # eu-1 joined, then went down; the attacker's server takes its address.
        nodes[0].stop()
        fake = FakeNode(nodes[0].control, os.path.join(work, "node-us", "identity"))
        status, token = api(port, "POST", "/v1/tokens", admin, {"name": "dpo", "role": "dpo"})
        assert status == 201, token
        erasure = ticket(port, admin, token["secret"], "erasure")

        def eu_answer():
            [answer] = by_place(state(port, admin, erasure)["answers"], "eu")
            return answer if answer["status"] == "failed" and answer.get("last_error") else None
        answer = wait_for(eu_answer, timeout=60, what="the forged receipt's refusal")
        assert fake.directives, "the fake server received the directive (it holds a real node certificate)"
        assert "the receipt was refused" in answer["last_error"] and "region/us/node/us-1, not spiffe://" in answer["last_error"], answer
        wait_for(lambda: all(a["status"] == "answered" for a in state(port, admin, erasure)["answers"] if a["region"] in ("us", "ap", "coordinator")),
                 what="the real nodes' receipts")
        time.sleep(6)  # another pass of the directive job: the forged answer is refused again, the ticket still waits
        current = state(port, admin, erasure)
        assert current["state"] == "in_progress" and len(fake.directives) >= 2, (current["state"], len(fake.directives))
        audit = api(port, "GET", "/v1/audit?limit=1000", admin)[1]
        refused = [e for e in audit["items"] if e["action"] == "gdpr_request.receipt_refused" and e["target"] == erasure]
        assert refused and refused[0]["detail"]["place"] == "eu-1"
        status, problem = api(port, "PATCH", f"/v1/gdpr-requests/{erasure}", admin, {"state": "completed"})
        assert status == 409 and "every region has answered" in problem["detail"]
    finally:
        if fake:
            fake.close()
        for node in nodes:
            if node.process.poll() is None:
                node.process.kill()
        coordinator.terminate()
