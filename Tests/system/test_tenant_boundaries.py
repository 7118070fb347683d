"""Tenant boundaries (issue 22), each exploit replayed against real processes: a customer pointing its webhook at
the node's own network, by the API and by a bundle; a refusing webhook turning DSNs on a forged sender; a domain
claimed without proof; one tenant's slow webhook; an audit log cut short in the database."""

import json
import os
import smtplib
import socket
import sqlite3
import subprocess
import time

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from harness import (MERIDIAN, ROOT, DNSZone, Node, RegionNode, SMTPSink, WebhookSink, answers, api, customer, fetch, first_admin, free_port,
                     message, prove_domains, send, start_coordinator, wait_for)


def test_the_api_refuses_webhooks_into_internal_networks_by_any_spelling(tmp_path):
    # A production coordinator: no egress flags. Before the guard each URL was stored and POSTed to by the node.
    port, data = free_port(), str(tmp_path / "coordinator")
    process = subprocess.Popen(
        [MERIDIAN, "coordinator", "--database", f"sqlite:{data}/c.sqlite", "--data-dir", data, "--port", str(port),
         "--node-port", str(free_port())], cwd=ROOT, stdout=open(tmp_path / "coordinator.log", "wb"), stderr=subprocess.STDOUT)
    try:
        admin = first_admin(data, port)
        body = {"name": "Mallory", "contact_email": "m@mallory.example", "domains": ["mallory.example"],
                "webhook": {"url": "https://hooks.mallory.example/in", "mode": "sync"}}
        status, created = api(port, "POST", "/v1/customers", admin, body)
        assert status == 201, created
        cid = created["customer"]["id"]
        token = api(port, "POST", "/v1/tokens", admin, {"name": "m", "role": "customer", "customer_id": cid})[1]["secret"]
        for url, rule in [
            ("http://hooks.mallory.example/in", "scheme"),
            ("https://169.254.169.254/latest/meta-data/iam/", "address"),
            ("https://2852039166/latest/meta-data/", "address"),
            ("https://0xa9.0xfe.0xa9.0xfe/", "address"),
            ("https://[::ffff:169.254.169.254]/", "address"),
            ("https://0x7f.1:8080/v1/tokens", "address"),
            ("https://10.0.0.1/", "address"),
            ("https://localhost:5432/", "address"),
        ]:
            status, problem = api(port, "PATCH", f"/v1/customers/{cid}", token, {"webhook": {"url": url, "mode": "sync"}})
            assert status == 422, (url, problem)
            assert problem["field"] == "webhook.url" and f"(rule: {rule})" in problem["detail"], problem
        status, problem = api(port, "POST", "/v1/customers", admin, {**body, "name": "M2", "domains": ["m2.example"],
                                                                      "webhook": {"url": "https://127.0.0.1/", "mode": "sync"}})
        assert status == 422 and "loopback" in problem["detail"], problem
        assert api(port, "GET", f"/v1/customers/{cid}", token)[1]["webhook"]["url"] == "https://hooks.mallory.example/in"
    finally:
        process.kill()


def test_a_node_posts_nothing_into_its_own_network_and_tells_nothing_about_it(workdir, sink, nodes):
    # The bundle's deployment allows http but no private network. The sink on loopback stands for an internal
    # service: before the guard, sync mode POSTed to it and put its answer into the SMTP 550.
    port = sink.port
    names = {"direct": f"http://127.0.0.1:{port}/refuse", "decimal": f"http://2130706433:{port}/refuse",
             "mapped": f"http://[::ffff:127.0.0.1]:{port}/refuse"}
    hostname = socket.gethostname()
    try:
        if all(info[4][0].startswith("127.") for info in socket.getaddrinfo(hostname, None, socket.AF_INET)):
            names["byname"] = f"http://{hostname}:{port}/refuse"   # a name the URL check cannot judge
    except OSError:
        pass
    customers = [customer(f"cus_{key}", f"{key}.example", url, mode="sync") for key, url in names.items()]
    customers.append(customer("cus_queued", "queued.example", f"http://127.0.0.1:{port}/ok"))
    node = Node(workdir, customers, egress={"allow_http": True, "allow_networks": []})
    nodes.append(node)
    for key in names:
        code, text = send(node.smtp_port, rcpt=f"x@{key}.example")
        assert code == 550, (key, text)
        assert "not a public address" in text and "go away" not in text and "127.0.0.1" not in text, (key, text)
    code, _ = send(node.smtp_port, rcpt="x@queued.example")
    assert code == 250
    wait_for(lambda: (node.messages("cus_queued") or [{}])[0].get("status") == "failed", what="the queued delivery failed")
    record = node.messages("cus_queued")[0]
    assert record["attempts"] == 1 and "not a public address" in record["final_reason"], record
    assert sink.posts() == [], "nothing may reach the internal address"
    assert "egress: refused" in open(node.log_path).read()


def test_a_refusing_webhook_cannot_turn_the_node_into_a_backscatter_source(workdir, sink, nodes):
    # The attacker's own webhook answers 4xx with its text; MAIL FROM names the victim. Before: each message
    # became a DSN to the victim with the endpoint's text and the whole message, without limit.
    smtp_sink = SMTPSink()
    try:
        node = Node(workdir, [customer("cus_mallory", "mallory.example", sink.url("/refuse"))], smarthost=smtp_sink.port)
        nodes.append(node)
        spam = message(subject="Cheap pills", body="BUY NOW at pills.example\n" * 200)
        for _ in range(7):
            assert send(node.smtp_port, sender="victim@elsewhere.example", rcpt="x@mallory.example", data=spam)[0] == 250
        wait_for(lambda: len([r for r in node.messages("cus_mallory") if r["status"] == "failed"]) == 7, timeout=30,
                 what="all seven failed")
        wait_for(lambda: len(smtp_sink.messages) >= 5, what="the DSNs within the budget")
        time.sleep(1)
        assert len(smtp_sink.messages) == 5, "at most five DSNs an hour to one sender address"
        for dsn in smtp_sink.messages:
            text = dsn["data"].decode()
            assert dsn["to"] == ["<victim@elsewhere.example>"]
            assert "Subject: Cheap pills" in text, "the original header comes back"
            assert "BUY NOW" not in text, "never the body"
            assert "go away" not in text, "never the endpoint's text"
            assert "refused the message (HTTP 422)" in text
        reasons = [r["final_reason"] for r in node.messages("cus_mallory")]
        assert sum("no DSN (rate limit: 5 DSNs to this sender in the last hour)" in r for r in reasons) == 2, reasons
        assert all("go away" in r for r in reasons), "the delivery log keeps the endpoint's answer for the customer"
    finally:
        smtp_sink.close()


def test_a_domain_is_routed_only_once_its_owner_proves_it(tmp_path):
    # Before: adding bigbank.example to any account made the node accept its mail at once (squatting, or taking
    # over mail whose MX still points at the service). Real coordinator, node and DNS server (dnslib).
    sink, zone = WebhookSink(), DNSZone()
    work, port = str(tmp_path), free_port()
    coordinator, data = start_coordinator(work, port, extra=("--dns-resolver", zone.address))
    node = None
    try:
        admin = first_admin(data, port)
        node = RegionNode(work, "eu", coordinator, admin, port)
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Squatter", "contact_email": "s@squat.example", "region": "eu", "domains": ["bigbank.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "sync"}})
        assert status == 201, created
        cid = created["customer"]["id"]
        [proof] = created["customer"]["domain_proofs"]
        assert proof["state"] == "pending" and proof["record_name"] == "_meridian.bigbank.example"
        wait_for(lambda: node.status()["customers"] == 1, what="the account in the eu bundle")
        code, text = send(node.smtp, rcpt="ceo@bigbank.example")
        assert code == 550, (code, text)
        assert sink.posts() == []

        # A check before the record is published changes nothing; once published, the check proves the domain.
        check = api(port, "GET", f"/v1/customers/{cid}/dns/check", admin)[1]
        assert check["domains"][0]["proof"] == "pending", check
        zone.records["_meridian.bigbank.example"] = {"TXT": [proof["record_value"]]}
        check = api(port, "GET", f"/v1/customers/{cid}/dns/check", admin)[1]
        assert check["domains"][0]["proof"] == "verified", check
        wait_for(lambda: send(node.smtp, rcpt="ceo@bigbank.example")[0] == 250, what="mail accepted once proved")
        assert len(sink.posts("/ok")) >= 1
        audit = api(port, "GET", "/v1/audit?limit=1000", admin)[1]["items"]
        assert any(e["action"] == "domain.verified" and e["target"] == cid for e in audit)
    finally:
        if node:
            node.stop()
        coordinator.kill()
        sink.close()
        zone.close()


def test_one_tenants_slow_webhook_does_not_hold_another_tenants_mail(workdir, sink, nodes):
    # cus_slow's webhook answers after 20 s and has 80 messages queued. Before: they took all 64 delivery slots
    # (48 of them waiting for the endpoint's 16), and cus_fast's message waited behind them for a minute.
    node = Node(workdir, [customer("cus_slow", "slow.example", sink.url("/slow")), customer("cus_fast", "fast.example", sink.url("/ok"))],
                webhook_timeout=30)
    nodes.append(node)
    with smtplib.SMTP("127.0.0.1", node.smtp_port, timeout=60) as smtp:
        for index in range(80):
            smtp.sendmail("a@sender.example", [f"x{index}@slow.example"], message(subject=f"slow {index}"))
    wait_for(lambda: len(sink.posts("/slow")) >= 16, what="the slow tenant's first deliveries under way")
    started = time.monotonic()
    assert send(node.smtp_port, rcpt="y@fast.example")[0] == 250
    wait_for(lambda: sink.posts("/ok"), timeout=10, what="the other tenant's delivery")
    assert time.monotonic() - started < 5, "the other tenant's mail must not wait for the slow one's"
    assert len(sink.posts("/slow")) <= 16, "the slow tenant holds at most its own share of the slots"


def test_a_webhook_that_keeps_failing_is_paused_and_says_so(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_down", "down.example", sink.url("/fail")), customer("cus_up", "up.example", sink.url("/ok"))])
    nodes.append(node)
    for index in range(3):
        assert send(node.smtp_port, rcpt=f"x{index}@down.example")[0] == 250
    wait_for(lambda: any("paused after 5 failures in a row" in (r.get("final_reason") or "") for r in node.messages("cus_down")),
             timeout=30, what="the breaker to open")
    tried = len(sink.posts("/fail"))
    time.sleep(3)
    assert len(sink.posts("/fail")) == tried, "no attempts while paused (retries are 1-2 s apart otherwise)"
    status, _, metrics = node.probe("/metrics")
    text = metrics.decode()
    assert 'meridian_webhook_circuits_open{region="eu"} 1' in text and "meridian_webhook_circuit_opened_total" in text, text
    assert send(node.smtp_port, rcpt="y@up.example")[0] == 250
    wait_for(lambda: sink.posts("/ok"), timeout=10, what="the other tenant's delivery")


def audit_verify(port, token, *extra):
    return subprocess.run([MERIDIAN, "audit", "verify", "--url", f"http://127.0.0.1:{port}", "--token", token, *extra],
                          capture_output=True, text=True, timeout=60)


def test_an_audit_log_cut_short_in_the_database_is_caught_by_the_signed_checkpoints(tmp_path):
    # Before: whoever held the database dropped the append-only triggers, deleted the newest entries (or rewrote
    # and re-hashed them), and `meridian audit verify` still said the chain was intact.
    work, port = str(tmp_path), free_port()
    coordinator, data = start_coordinator(work, port, extra=("--audit-checkpoint-seconds", "1"))
    try:
        admin = first_admin(data, port)
        for index in range(5):
            assert api(port, "POST", "/v1/tokens", admin, {"name": f"t{index}", "role": "auditor"})[0] == 201
        head = api(port, "GET", "/v1/audit?limit=1000", admin)[1]["items"][-1]
        checkpoint = wait_for(lambda: (lambda r: r[2] if r[0] == 200 and json.loads(r[2])["sequence"] >= head["sequence"] else None)(
            fetch(f"http://127.0.0.1:{port}/.well-known/audit-checkpoint")), what="a checkpoint covering the log")
        assert json.loads(checkpoint)["hash"] == head["hash"]
        assert os.stat(os.path.join(data, "audit-checkpoints.jsonl")).st_mode & 0o077 == 0
        result = audit_verify(port, admin)
        assert result.returncode == 0 and "held to 1 signed checkpoints" in result.stdout, result.stdout + result.stderr
    finally:
        coordinator.kill()
        coordinator.wait()
    with sqlite3.connect(os.path.join(data, "coordinator.sqlite")) as db:
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("DELETE FROM audit_log WHERE sequence > ?", (head["sequence"] - 3,))
    coordinator, _ = start_coordinator(work, port, extra=("--audit-checkpoint-seconds", "1"))
    try:
        wait_for(lambda: answers(port, admin), what="the coordinator back")
        result = audit_verify(port, admin, "--checkpoints", os.path.join(data, "audit-checkpoints.jsonl"))
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"BROKEN at entry {head['sequence'] - 2}" in result.stdout and "were deleted" in result.stdout, result.stdout
    finally:
        coordinator.kill()


def test_a_rotated_webhook_secret_keeps_signing_beside_the_new_one_for_the_overlap(tmp_path):
    # Before: a secret could not be rotated at all. Receivers verify with the standardwebhooks library.
    sink, work, port = WebhookSink(), str(tmp_path), free_port()
    coordinator, data = start_coordinator(work, port)
    node = None
    try:
        admin = first_admin(data, port)
        node = RegionNode(work, "eu", coordinator, admin, port)
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Rotate", "contact_email": "ops@rotate.example", "region": "eu", "domains": ["rotate.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "sync"}})
        assert status == 201, created
        cid = prove_domains(port, admin, created["customer"])
        old = created["webhook_secret"]
        token = api(port, "POST", "/v1/tokens", admin, {"name": "r", "role": "customer", "customer_id": cid})[1]["secret"]

        assert api(port, "POST", f"/v1/customers/{cid}/webhook-secret", token, {"overlap_hours": 200})[0] == 422
        status, rotated = api(port, "POST", f"/v1/customers/{cid}/webhook-secret", token, {"overlap_hours": 2})
        assert status == 201 and rotated["webhook_secret"].startswith("whsec_") and rotated["webhook_secret"] != old, rotated
        new = rotated["webhook_secret"]
        assert api(port, "GET", f"/v1/customers/{cid}", token)[1]["previous_secret_valid_until"] == rotated["previous_valid_until"]

        def delivered(secret_list):
            before = len(sink.posts("/ok"))
            wait_for(lambda: send(node.smtp, rcpt="x@rotate.example")[0] == 250, what="a delivery under the new config")
            post = sink.posts("/ok")[-1]
            assert len(sink.posts("/ok")) > before
            headers = {k.lower(): v for k, v in post["headers"].items()}
            return [secret for secret in secret_list if verifies(secret, post["body"], headers)], headers["webhook-signature"]

        def verifies(secret, body, headers):
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                return False

        wait_for(lambda: len(delivered([old, new])[0]) == 2, what="a delivery signed with both secrets")
        ok, signature = delivered([old, new])
        assert ok == [old, new] and len(signature.split(" ")) == 2

        # No overlap: the old secret stops signing with the next config version.
        status, again = api(port, "POST", f"/v1/customers/{cid}/webhook-secret", token, {"overlap_hours": 0})
        assert status == 201 and "previous_valid_until" not in again
        newest = again["webhook_secret"]
        wait_for(lambda: delivered([old, new, newest])[0] == [newest], what="a delivery signed with the newest secret only")
        audit = [e for e in api(port, "GET", "/v1/audit?limit=1000", admin)[1]["items"] if e["action"] == "customer.webhook_secret.rotate"]
        assert len(audit) == 2 and not any("whsec_" in json.dumps(e) for e in audit)
        assert "whsec_" not in open(os.path.join(work, "coordinator.log")).read()
    finally:
        if node:
            node.stop()
        coordinator.kill()
        sink.close()
