"""The sub-processor registry enforced in the data plane: a node runs the optional content_analysis step only for
customers whose bundle entry allows it (the coordinator leaves it out for a customer who objected) and only
towards a host that a sub-processor in the bundle has registered. The analysis service is a real HTTP server."""

import json
import os

from harness import PKI_SHARED, TEST_EGRESS, Node, WebhookSink, customer, send, wait_for


def bundle(version, customers, egress):
    return {
        "version": version, "region": "eu", "customers": customers, "elsewhere": [], "egress": TEST_EGRESS,
        "subprocessors": [{"id": "analysis-co", "name": "Analysis Co", "steps": ["content_analysis"], "egress_hosts": egress}],
    }


def write(path, content):
    """Writes the bundle file signed as the coordinator signs it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(PKI_SHARED.sign(content), f)
    os.replace(path + ".tmp", path)


def payload(sink, path):
    return [json.loads(request["body"]) for request in sink.posts(path)]


def test_the_node_runs_the_step_only_where_the_bundle_allows_it(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    allowed = dict(customer("cus_allowed", "allowed.example", sink.url("/allowed")), steps=["content_analysis"])
    objected = customer("cus_objected", "objected.example", sink.url("/objected"))  # the coordinator left the step out
    bundle_path = os.path.join(work, "node", "bundle.json")
    write(bundle_path, bundle(1, [allowed, objected], ["127.0.0.1"]))
    node = None
    try:
        node = Node(work, [], write_bundle=False, extra=["--analysis-url", sink.url("/analyse")])
        assert send(node.smtp_port, rcpt="x@allowed.example", subject="Invoice 7")[0] == 250
        assert send(node.smtp_port, rcpt="x@objected.example", subject="Private")[0] == 250
        wait_for(lambda: sink.posts("/allowed") and sink.posts("/objected"), what="both deliveries")

        analysed = [json.loads(request["body"]) for request in sink.posts("/analyse")]
        assert [(a["customer_id"], a["subject"]) for a in analysed] == [("cus_allowed", "Invoice 7")], "only the allowed customer's mail left"
        assert payload(sink, "/allowed")[0]["meridian"]["analysis"] == {"score": 0.02, "verdict": "clean"}
        assert "analysis" not in payload(sink, "/objected")[0]["meridian"]

        # The same customer, but the service's host is not the sub-processor's registered egress host: nothing leaves.
        write(bundle_path, bundle(2, [allowed, objected], ["analysis.example"]))
        wait_for(lambda: json.loads(node.get("/v1/status")[2])["config_version"] == 2, what="version 2 in force")
        assert send(node.smtp_port, rcpt="x@allowed.example", subject="Second")[0] == 250
        wait_for(lambda: len(sink.posts("/allowed")) == 2, what="the second delivery")
        assert len(sink.posts("/analyse")) == 1
        assert "analysis" not in payload(sink, "/allowed")[1]["meridian"]
        assert "not an egress host" in open(node.log_path).read()

        # A bundle that gives a customer a step no sub-processor in it serves is refused; version 2 stays.
        bad = bundle(3, [allowed, objected], ["127.0.0.1"])
        bad["subprocessors"] = []
        write(bundle_path, bad)
        wait_for(lambda: "is not an optional step of a sub-processor in this bundle" in open(node.log_path).read(), what="the refusal")
        assert json.loads(node.get("/v1/status")[2])["config_version"] == 2
    finally:
        if node:
            node.stop()
        sink.close()
