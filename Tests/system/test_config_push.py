"""Config push end to end, with real processes: `meridian up` (a coordinator and three nodes), or a
coordinator and a `meridian node --coordinator` started apart. Changes made through the admin API reach the
nodes as signed versions; every node's ACK or NACK shows in /v1/nodes; nodes keep serving while the
coordinator is away and catch up when it is back."""

import base64
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

from harness import MERIDIAN, NODE_TOKEN, Up, WebhookSink, answers, api, first_admin, free_port, http, node_version, send, start_coordinator, start_node, wait_for


def test_webhook_and_region_changes_reach_the_next_message(tmp_path):
    sink = WebhookSink()
    up = Up(tmp_path)
    try:
        status, created = up.api("POST", "/v1/customers", {
            "name": "Push", "contact_email": "ops@push.example", "region": None, "domains": ["push.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "sync"}})
        assert status == 201, created
        cid = created["customer"]["id"]
        first = up.in_sync(after=1)
        assert send(up.smtp("eu"), rcpt="a@push.example")[0] == 250
        assert len(sink.posts("/ok")) == 1

        status, _ = up.api("PATCH", f"/v1/customers/{cid}", {"webhook": {"url": sink.url("/ok/second"), "mode": "sync"}})
        assert status == 200
        second = up.in_sync(after=first)
        assert send(up.smtp("ap"), rcpt="b@push.example")[0] == 250
        assert len(sink.posts("/ok/second")) == 1, "the next message goes to the new webhook URL"

        status, pin = up.api("PUT", f"/v1/customers/{cid}/region", {"region": "us", "reason": "test"})
        assert status == 200, pin
        third = up.in_sync(after=second)
        code, text = send(up.smtp("eu"), rcpt="c@push.example")
        assert code == 451 and "us.mx." in text, (code, text)
        assert send(up.smtp("us"), rcpt="d@push.example")[0] == 250
        assert len(sink.posts("/ok/second")) == 2

        # Each message's metadata names the config version it was processed under.
        status, page = up.api("GET", f"/v1/customers/{cid}/messages")
        assert status == 200, page
        versions = sorted(record["metadata"]["config_version"] for record in page["messages"])
        assert versions == [first, second, third], versions

        # Every node acknowledged the newest version; the CLI says so too.
        out = subprocess.run([MERIDIAN, "nodes", "--url", f"http://127.0.0.1:{up.port}", "--data-dir", up.data],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert f"config version {third}" in out.stdout and out.stdout.count("in_sync") == 3, out.stdout

        # Publishing is audited.
        status, audit = up.api("GET", "/v1/audit?limit=1000")
        assert [e["target"] for e in audit["items"] if e["action"] == "config.publish"][-1] == f"config/{third}"
    finally:
        up.stop()
        sink.close()


def test_tampered_bundle_is_nacked_and_the_old_one_stays(tmp_path):
    sink = WebhookSink()
    up = Up(tmp_path)
    try:
        status, created = up.api("POST", "/v1/customers", {
            "name": "Tamper", "contact_email": "ops@tamper.example", "region": "eu", "domains": ["tamper.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "sync"}})
        assert status == 201
        version = up.in_sync(after=1)
        status, body = http("GET", f"http://127.0.0.1:{up.port}/node/v1/bundle?region=eu&node=eu-1&version=0"
                            f"&control_url=http://127.0.0.1:{up.control('eu')}", up.node_token)
        assert status == 200
        signed = json.loads(body)
        bundle = json.loads(base64.b64decode(signed["payload"]))
        bundle["version"] = version + 100
        bundle["customers"][0]["webhook"]["url"] = "http://attacker.example/steal"
        signed["payload"] = base64.b64encode(json.dumps(bundle).encode()).decode()
        status, body = http("PUT", f"http://127.0.0.1:{up.control('eu')}/v1/bundle", up.node_token, json.dumps(signed).encode())
        report = json.loads(body)
        assert status == 422 and report["status"] == "nack", report
        assert "signature does not verify" in report["error"] and report["version"] == version, report
        # Not a JSON document at all, and no token: refused as well.
        assert http("PUT", f"http://127.0.0.1:{up.control('eu')}/v1/bundle", up.node_token, b"{not json")[0] == 422
        assert http("PUT", f"http://127.0.0.1:{up.control('eu')}/v1/bundle", "mrd_wrong", json.dumps(signed).encode())[0] == 401
        # The old bundle stays in force: mail still goes to the real webhook.
        assert send(up.smtp("eu"), rcpt="x@tamper.example")[0] == 250
        assert len(sink.posts("/ok")) == 1
        status, body = http("GET", f"http://127.0.0.1:{up.control('eu')}/v1/status", up.node_token)
        assert json.loads(body)["config_version"] == version
    finally:
        up.stop()
        sink.close()


def test_nodes_keep_serving_without_the_coordinator_and_reconcile(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    port, smtp, control = free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    node = None
    try:
        admin = first_admin(data, port)
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Away", "contact_email": "ops@away.example", "region": "eu", "domains": ["away.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "queued"}})
        assert status == 201
        cid = created["customer"]["id"]
        node = start_node(work, port, os.path.join(data, "bundle-signing.pub"), smtp, control)
        wait_for(lambda: node_version(control) == api(port, "GET", "/v1/nodes", admin)[1]["config_version"], what="the node's first pull")
        version = node_version(control)

        coordinator.kill()
        coordinator.wait()
        assert send(smtp, rcpt="one@away.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok")) == 1, what="delivery with the coordinator down")

        # A node restarted while the coordinator is down starts from its last-known-good bundle.
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=40) == 0
        node = start_node(work, port, os.path.join(data, "bundle-signing.pub"), smtp, control)
        wait_for(lambda: node_version(control) == version, what="the node back on its last-known-good")
        assert send(smtp, rcpt="two@away.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok")) == 2, what="delivery after a restart without the coordinator")
        assert "starting from the last-known-good" in open(os.path.join(work, "node.log")).read()

        # The coordinator comes back; a change made while the node cannot answer pushes (stopped) reaches it
        # by its next pull.
        coordinator, _ = start_coordinator(work, port)
        wait_for(lambda: answers(port, admin), what="the coordinator's restart")
        node.send_signal(signal.SIGSTOP)
        try:
            status, _ = api(port, "PATCH", f"/v1/customers/{cid}", admin, {"webhook": {"url": sink.url("/ok/after"), "mode": "queued"}})
            assert status == 200
            newest = wait_for(lambda: (api(port, "GET", "/v1/nodes", admin)[1]["config_version"] or 0) > version
                              and api(port, "GET", "/v1/nodes", admin)[1]["config_version"], what="the new version")
            time.sleep(0.5)
            assert api(port, "GET", "/v1/nodes", admin)[1]["nodes"][0]["state"] in ("behind", "unreachable")
        finally:
            node.send_signal(signal.SIGCONT)
        wait_for(lambda: api(port, "GET", "/v1/nodes", admin)[1]["nodes"][0]["state"] == "in_sync", timeout=30, what="the node reconciled")
        assert node_version(control) == newest
        assert send(smtp, rcpt="three@away.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok/after")) == 1, what="delivery to the changed webhook")
    finally:
        for process in (node, coordinator):
            if process and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
        sink.close()


def node_status(control_port):
    status, body = http("GET", f"http://127.0.0.1:{control_port}/v1/status", NODE_TOKEN)
    assert status == 200, body
    return json.loads(body)


def stop_group(process):
    """SIGTERM to the node's process group (faketime forks and does not pass signals on); waits for it."""
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    wait_for(lambda: subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True).returncode != 0,
             what="the node's process group gone")


def kill_left_running(node, coordinator):
    """After a test: the node's whole process group (faketime forks) and the coordinator, if still running."""
    if node and node.poll() is None:
        os.killpg(node.pid, signal.SIGKILL)
    if coordinator.poll() is None:
        coordinator.kill()


def test_a_node_measures_its_clock_against_the_coordinators(tmp_path):
    """The skew comes from the Date header of each pull's answer: about 0 on a node with the coordinator's clock,
    about +300 s on one running 5 minutes ahead (libfaketime), which also says so in its log and its metrics."""
    work = str(tmp_path)
    port, smtp, control = free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    key = os.path.join(data, "bundle-signing.pub")
    node = None
    try:
        first_admin(data, port)
        node = start_node(work, port, key, smtp, control)
        wait_for(lambda: node_version(control) is not None and node_status(control)["clock_skew_seconds"] is not None,
                 what="the node's first pull")
        assert abs(node_status(control)["clock_skew_seconds"]) <= 2
        stop_group(node)
        assert "clock is" not in open(os.path.join(work, "node.log")).read()

        node = start_node(work, port, key, smtp, control, wrapper=("faketime", "-f", "+300"),
                          env={"FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        wait_for(lambda: node_version(control) is not None and node_status(control)["clock_skew_seconds"] is not None,
                 what="the skewed node's first pull")
        assert 298 <= node_status(control)["clock_skew_seconds"] <= 302
        with urllib.request.urlopen(f"http://127.0.0.1:{control}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        value = float(re.search(r'^meridian_clock_skew_seconds\{region="eu"\} (\S+)$', metrics, re.M).group(1))
        assert 298 <= value <= 302
        assert re.search(r"this node's clock is (29[89]|30[012]) s ahead of the coordinator's", open(os.path.join(work, "node.log")).read())
    finally:
        kill_left_running(node, coordinator)


def test_a_retired_node_is_forgotten_and_one_still_running_comes_back(tmp_path):
    work = str(tmp_path)
    port, smtp, control = free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    key = os.path.join(data, "bundle-signing.pub")
    node = None

    def cli(*args):
        return subprocess.run([MERIDIAN, "nodes", *args, "--url", f"http://127.0.0.1:{port}", "--data-dir", data],
                              capture_output=True, text=True, timeout=30)
    try:
        admin = first_admin(data, port)
        node = start_node(work, port, key, smtp, control)
        wait_for(lambda: "eu-1" in cli().stdout, what="the node in meridian nodes")
        stop_group(node)
        node = None

        forgot = cli("forget", "eu-1")
        assert forgot.returncode == 0 and forgot.stdout.startswith("forgot eu-1 (eu, http://127.0.0.1:"), forgot.stdout + forgot.stderr
        assert "eu-1" not in cli().stdout
        again = cli("forget", "eu-1")
        assert again.returncode != 0 and "no node with id eu-1" in again.stderr, again.stdout + again.stderr
        status, audit = api(port, "GET", "/v1/audit?limit=100", admin)
        assert [e["target"] for e in audit["items"] if e["action"] == "node.forget"] == ["node/eu-1"]

        node = start_node(work, port, key, smtp, control)
        wait_for(lambda: "eu-1" in cli().stdout, what="the node back after its next pull")
    finally:
        kill_left_running(node, coordinator)


def test_a_node_that_trusts_another_key_nacks_and_the_coordinator_records_it(tmp_path):
    work = str(tmp_path)
    port, smtp, control = free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    node = None
    try:
        admin = first_admin(data, port)
        other = base64.b64encode(bytes(range(32))).decode()  # a valid Ed25519 public key that did not sign anything here
        node = start_node(work, port, other, smtp, control)

        def refused():
            status, nodes = api(port, "GET", "/v1/nodes", admin)
            return nodes["nodes"] and nodes["nodes"][0]["state"] == "refused" and nodes["nodes"][0]

        entry = wait_for(refused, what="the NACK recorded")
        assert "signed by key" in entry["last_error"] and entry.get("applied_version") is None, entry
        assert node_version(control) == 0
        # A customer is refused by that node, which has no usable config.
        assert send(smtp, rcpt="x@nobody.example")[0] == 550
        # Node-protocol input is checked: bad region, bad token.
        status, body = http("GET", f"http://127.0.0.1:{port}/node/v1/bundle?region=mars&node=x&version=0&control_url=http://h:1", NODE_TOKEN)
        assert status == 422 and b"region" in body
        assert http("GET", f"http://127.0.0.1:{port}/node/v1/bundle?region=eu&node=x&version=0&control_url=http://h:1", "mrd_x")[0] == 401
    finally:
        for process in (node, coordinator):
            if process and process.poll() is None:
                process.kill()
