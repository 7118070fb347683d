"""Delivery events: a node posts message.failed and message.delayed to a customer's events URL, signed with its
webhook secret (checked with the `standardwebhooks` library), with the metadata the region keeps (a redacted
field is not in it). message.quarantined is in test_quarantine.py; domain.unverified, from the coordinator, in
the coordinator's DomainProofTests."""

from standardwebhooks import Webhook

from harness import SECRET, Node, customer, send, wait_for


def events(sink):
    return [Webhook(SECRET).verify(p["body"], {k.lower(): v for k, v in p["headers"].items()}) for p in sink.posts("/events")]


def test_failed_and_delayed_deliveries_are_announced(workdir, sink, nodes):
    refusing = customer("cus_refuse", "refuse.example", sink.url("/refuse"), redactions=["subject"])
    refusing["webhook"]["events_url"] = sink.url("/events")
    waiting = customer("cus_wait", "wait.example", sink.url("/outage"))
    waiting["webhook"]["events_url"] = sink.url("/events")
    quiet = customer("cus_quiet", "quiet.example", sink.url("/refuse"))  # no events URL: no event
    node = Node(workdir, [refusing, waiting, quiet])
    nodes.append(node)
    sink.outage.set()

    assert send(node.smtp_port, rcpt="a@refuse.example", subject="Invoice 7")[0] == 250
    assert send(node.smtp_port, rcpt="b@wait.example", subject="Later")[0] == 250
    assert send(node.smtp_port, rcpt="c@quiet.example")[0] == 250
    wait_for(lambda: len(sink.posts("/events")) == 2, what="two events")
    by_type = {e["type"]: e for e in events(sink)}
    failed, delayed = by_type["message.failed"], by_type["message.delayed"]

    assert failed["id"].startswith("evt_") and failed["data"]["customer_id"] == "cus_refuse"
    assert failed["data"]["status"] == "failed" and "422" in failed["data"]["reason"] and failed["data"]["attempts"] == 1
    assert failed["data"]["envelope_to"] == "a@refuse.example" and "subject" not in failed["data"], "a redacted field stays out"
    assert delayed["data"]["status"] == "queued" and delayed["data"]["subject"] == "Later" and "next_attempt_at" in delayed["data"]
    assert "503" in delayed["data"]["reason"] and delayed["data"]["region"] == "eu"
    assert all(p["headers"]["webhook-id"] == e["id"] for p, e in zip(sink.posts("/events"), events(sink)))
    (record,) = node.messages("cus_refuse")
    assert record["status"] == "failed" and record["webhook_id"] == failed["data"]["webhook_id"]
