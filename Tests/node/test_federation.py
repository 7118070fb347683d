"""The coordinator's GET /v1/customers/{id}/messages asks every regional node and merges the answers. Real
processes: a coordinator on SQLite, an eu and a us node, and one node address where nothing listens."""

import json
import os
import subprocess
import urllib.request

import pytest

from harness import MERIDIAN, NODE_TOKEN, Node, WebhookSink, customer, free_port, wait_for
from test_node import send


def api(port, method, path, token, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_message_query_spans_regions_and_survives_a_dead_node(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    nodes = []
    coordinator = None
    try:
        eu = Node(os.path.join(work, "eu"), [])
        nodes.append(eu)
        us_dir = os.path.join(work, "us")
        os.makedirs(us_dir)
        us = Node(us_dir, [], region="us")
        nodes.append(us)
        dead = free_port()
        endpoints = os.path.join(work, "node-endpoints")
        open(endpoints, "w").write(
            f"# written by the test\nhttp://127.0.0.1:{eu.control_port}\nhttp://127.0.0.1:{us.control_port}\nhttp://127.0.0.1:{dead}\n")
        port = free_port()
        data = os.path.join(work, "coordinator")
        coordinator = subprocess.Popen(
            [MERIDIAN, "coordinator", "--database", f"sqlite:{data}/coordinator.sqlite", "--data-dir", data, "--port", str(port),
             "--regions", eu.regions, "--node-endpoints", endpoints],
            stdout=open(os.path.join(work, "coordinator.log"), "wb"), stderr=subprocess.STDOUT,
            env=dict(os.environ, MERIDIAN_NODE_TOKEN=NODE_TOKEN))
        wait_for(lambda: os.path.exists(os.path.join(data, "admin-token")), what="the coordinator's first start")
        admin = open(os.path.join(data, "admin-token")).read().strip()
        wait_for(lambda: api(port, "GET", "/v1/whoami", admin)[0] == 200, what="the coordinator")

        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Fed", "contact_email": "ops@fed.example", "region": None, "domains": ["fed.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "queued"}})
        assert status == 201, created
        cid, secret = created["customer"]["id"], created["webhook_secret"]
        # Until config push exists, the test hands each node the bundle the coordinator will compile.
        entry = customer(cid, "fed.example", sink.url("/ok"), region=None)
        entry["webhook"]["secret"] = secret
        eu.write_bundle(2, [entry])
        us.write_bundle(2, [entry])
        wait_for(lambda: json.loads(eu.get("/v1/status")[2])["config_version"] == 2, what="eu bundle")
        wait_for(lambda: json.loads(us.get("/v1/status")[2])["config_version"] == 2, what="us bundle")

        assert send(eu.smtp_port, rcpt="a@fed.example", subject="via eu")[0] == 250
        assert send(us.smtp_port, rcpt="b@fed.example", subject="via us")[0] == 250
        wait_for(lambda: len(sink.posts("/ok")) == 2, what="both deliveries")

        status, body = api(port, "GET", f"/v1/customers/{cid}/messages", admin)
        assert status == 200, body
        assert sorted(m["region"] for m in body["messages"]) == ["eu", "us"]
        assert {m["metadata"]["subject"] for m in body["messages"]} == {"via eu", "via us"}
        sources = {s["url"].rsplit(":", 1)[1]: s for s in body["sources"]}
        assert sources[str(dead)]["status"] == "unreachable"
        assert sources[str(eu.control_port)]["status"] == "ok" and sources[str(eu.control_port)]["region"] == "eu"

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
        if coordinator:
            coordinator.terminate()
            coordinator.wait(timeout=30)
        for node in nodes:
            node.stop()
        sink.close()
