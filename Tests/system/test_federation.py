"""The coordinator's GET /v1/customers/{id}/messages asks every regional node it knows (the `nodes` table, which
pulls fill) and merges the answers. Real processes: a coordinator on SQLite, an eu and a us node that pull from
it, and a third node that joined and then stopped."""

from harness import WebhookSink, api, first_admin, fleet_with_a_dead_node, free_port, prove_domains, send, start_coordinator, wait_for


def test_message_query_spans_regions_and_survives_a_dead_node(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    port = free_port()
    coordinator, data = start_coordinator(work, port)
    nodes = []
    try:
        admin = first_admin(data, port)
        eu, us, dead = fleet_with_a_dead_node(work, coordinator, admin, port, nodes)

        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Fed", "contact_email": "ops@fed.example", "region": None, "domains": ["fed.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "queued"}})
        assert status == 201, created
        cid = prove_domains(port, admin, created["customer"])
        wait_for(lambda: eu.status()["customers"] == 1 and us.status()["customers"] == 1, what="the customer in both regions")

        # The customer reaches the nodes before its proved domain does (a pending domain is routed nowhere): a
        # refused RCPT delivers nothing, so sending until one is taken sends each message once.
        wait_for(lambda: send(eu.smtp, rcpt="a@fed.example", subject="via eu")[0] == 250, what="the eu node taking fed.example")
        wait_for(lambda: send(us.smtp, rcpt="b@fed.example", subject="via us")[0] == 250, what="the us node taking fed.example")
        wait_for(lambda: len(sink.posts("/ok")) == 2, what="both deliveries")

        status, body = api(port, "GET", f"/v1/customers/{cid}/messages", admin)
        assert status == 200, body
        assert sorted(m["region"] for m in body["messages"]) == ["eu", "us"]
        assert {m["metadata"]["subject"] for m in body["messages"]} == {"via eu", "via us"}
        sources = {s["url"].rsplit(":", 1)[1]: s for s in body["sources"]}
        assert sources[str(dead.control)]["status"] == "unreachable"
        assert sources[str(eu.control)]["status"] == "ok" and sources[str(eu.control)]["region"] == "eu"

        status, body = api(port, "GET", f"/v1/customers/{cid}/messages?recipient=b@fed.example", admin)
        assert status == 200 and [m["region"] for m in body["messages"]] == ["us"]
        status, body = api(port, "GET", f"/v1/customers/{cid}/messages?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", admin)
        assert status == 400 and "since" in body["detail"]
        status, body = api(port, "GET", "/v1/customers/cus_nobody/messages", admin)
        assert status == 404
        # The read is in the audit log.
        status, audit = api(port, "GET", "/v1/audit?limit=200", admin)
        assert any(e["action"] == "customer.messages.read" and e["target"] == cid for e in audit["items"]), audit
    finally:
        for node in nodes:
            node.stop()
        coordinator.terminate()
        coordinator.wait(timeout=30)
        sink.close()
