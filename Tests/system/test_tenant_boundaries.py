"""Tenant boundaries (issue 22), each exploit replayed against real processes: a customer pointing its webhook at
the node's own network, by the API and by a bundle; and what the SMTP client and the delivery log are told."""

import socket
import subprocess
import time

from harness import MERIDIAN, ROOT, Node, SMTPSink, api, customer, first_admin, free_port, message, send, wait_for


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
