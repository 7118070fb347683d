"""Config push end to end, with real processes: `meridian up` (a coordinator and three nodes), or a
coordinator and a `meridian node --coordinator --join` started apart. Changes made through the admin API reach
the nodes as signed versions over mutual TLS; every node's ACK or NACK shows in /v1/nodes; nodes keep serving
while the coordinator is away and catch up when it is back; without the coordinator's or a node's certificate
nothing is pushed or pulled."""

import json
import os
import re
import signal
import ssl
import subprocess
import time

import pytest

from harness import (MERIDIAN, Up, WebhookSink, answers, api, enroll, fetch, first_admin, free_port, http, node_status, node_version, prove_domains, send,
                     start_coordinator, start_node, wait_for)


def joined_node(work, coordinator, port, admin, smtp, control, probe, **kwargs):
    """Enrolls eu-1 and starts it with its join token."""
    return start_node(work, coordinator.node_port, enroll(port, admin, "eu", "eu-1", control), smtp, control, probe, **kwargs)


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


def test_without_a_certificate_no_bundle_leaves_the_coordinator_and_none_reaches_a_node(tmp_path):
    """The shared-token exploits of the build before node identity, replayed: ask the coordinator for another
    region's bundle as a node that does not exist, with another node's control URL (which registered the rogue
    node, moved the real one and handed out every webhook secret in the clear), and push a bundle to a node.
    With the old build's `node-token` when there is one, else without."""
    sink = WebhookSink()
    up = Up(tmp_path)
    try:
        status, created = up.api("POST", "/v1/customers", {
            "name": "Tamper", "contact_email": "ops@tamper.example", "region": "us", "domains": ["tamper.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "sync"}})
        assert status == 201
        version = up.in_sync(after=1)
        token_file = os.path.join(up.data, "node-token")
        token = open(token_file).read().strip() if os.path.exists(token_file) else "none"
        evil = free_port()
        query = f"region=us&node=rogue&version=0&control_url=http://127.0.0.1:{evil}"
        status, body = http("GET", f"http://127.0.0.1:{up.port}/node/v1/bundle?{query}", token)
        assert status != 200 and b"whsec_" not in body, "the admin port serves no bundle"
        status, body = http("GET", f"http://127.0.0.1:{up.port}/node/v1/bundle?region=us&node=us-1&version=0&control_url=http://127.0.0.1:{evil}", token)
        assert status != 200 and b"whsec_" not in body
        # The node port without a client certificate: 401, and nothing but the coordinator CA's certificate.
        anonymous = ssl.create_default_context()
        anonymous.check_hostname, anonymous.verify_mode = False, ssl.CERT_NONE
        status, _, body = fetch(f"https://127.0.0.1:{up.node_port}/node/v1/bundle?{query}", context=anonymous,
                                headers=[("Authorization", f"Bearer {token}")])
        assert status == 401 and b"certificate" in body and b"whsec_" not in body
        status, nodes = up.api("GET", "/v1/nodes")
        assert sorted(n["id"] for n in nodes["nodes"]) == ["ap-1", "eu-1", "us-1"], "no rogue node registered"
        assert {n["id"]: n["control_url"] for n in nodes["nodes"]}["us-1"] == f"https://127.0.0.1:{up.control('us')}", "no node moved"
        # A push to a node's control API without the coordinator's certificate does not get past the handshake,
        # nor does plain HTTP; the version in force stays.
        with pytest.raises(OSError):
            fetch(f"https://127.0.0.1:{up.control('us')}/v1/bundle", method="PUT", body=b"{}", context=anonymous)
        with pytest.raises(OSError):
            http("PUT", f"http://127.0.0.1:{up.control('us')}/v1/bundle", token, b"{}")
        assert send(up.smtp("us"), rcpt="x@tamper.example")[0] == 250
        assert len(sink.posts("/ok")) == 1
        assert node_version(up.probe("us")) == version
        status, audit = up.api("GET", "/v1/audit?limit=1000")
        assert not [e for e in audit["items"] if e["action"] in ("node.register", "node.update")]
    finally:
        up.stop()
        sink.close()


def test_nodes_keep_serving_without_the_coordinator_and_reconcile(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    port, smtp, control, probe = free_port(), free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    node = None
    try:
        admin = first_admin(data, port)
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Away", "contact_email": "ops@away.example", "region": "eu", "domains": ["away.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "queued"}})
        assert status == 201
        cid = prove_domains(port, admin, created["customer"])
        node = joined_node(work, coordinator, port, admin, smtp, control, probe)
        wait_for(lambda: node_version(probe) == api(port, "GET", "/v1/nodes", admin)[1]["config_version"], what="the node's first pull")
        version = node_version(probe)
        node_port = coordinator.node_port

        coordinator.kill()
        coordinator.wait()
        assert send(smtp, rcpt="one@away.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok")) == 1, what="delivery with the coordinator down")

        # A node restarted while the coordinator is down starts from its last-known-good bundle; it joined
        # already, so it needs no token.
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=40) == 0
        node = start_node(work, node_port, None, smtp, control, probe)
        wait_for(lambda: node_version(probe) == version, what="the node back on its last-known-good")
        assert send(smtp, rcpt="two@away.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok")) == 2, what="delivery after a restart without the coordinator")
        assert "starting from the last-known-good" in open(os.path.join(work, "node.log")).read()

        # The coordinator comes back; a change made while the node cannot answer pushes (stopped) reaches it
        # by its next pull.
        coordinator, _ = start_coordinator(work, port, node_port=node_port)
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
        assert node_version(probe) == newest
        assert send(smtp, rcpt="three@away.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok/after")) == 1, what="delivery to the changed webhook")
    finally:
        for process in (node, coordinator):
            if process and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
        sink.close()


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
    port, smtp, control, probe = free_port(), free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    node = None

    def skew():
        """The node's measured skew, or None before its first pull (or while it does not answer)."""
        status = node_status(probe)
        return status["clock_skew_seconds"] if status else None
    try:
        admin = first_admin(data, port)
        node = joined_node(work, coordinator, port, admin, smtp, control, probe)
        wait_for(lambda: skew() is not None, what="the node's first pull")
        assert abs(node_status(probe)["clock_skew_seconds"]) <= 2
        stop_group(node)
        assert "clock is" not in open(os.path.join(work, "node.log")).read()

        node = start_node(work, coordinator.node_port, None, smtp, control, probe, wrapper=("faketime", "-f", "+300"),
                          env={"FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        wait_for(lambda: abs(skew() or 0) > 100, what="the skewed node's first pull")
        assert 298 <= node_status(probe)["clock_skew_seconds"] <= 302
        metrics = fetch(f"http://127.0.0.1:{probe}/metrics")[2].decode()
        value = float(re.search(r'^meridian_clock_skew_seconds\{region="eu"\} (\S+)$', metrics, re.M).group(1))
        assert 298 <= value <= 302
        assert re.search(r"this node's clock is (29[89]|30[012]) s ahead of the coordinator's", open(os.path.join(work, "node.log")).read())
    finally:
        kill_left_running(node, coordinator)


def test_a_retired_node_is_forgotten_and_takes_part_again_only_when_enrolled_again(tmp_path):
    work = str(tmp_path)
    port, smtp, control, probe = free_port(), free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    node = None

    def cli(*args):
        return subprocess.run([MERIDIAN, "nodes", *args, "--url", f"http://127.0.0.1:{port}", "--data-dir", data],
                              capture_output=True, text=True, timeout=30)
    try:
        admin = first_admin(data, port)
        node = joined_node(work, coordinator, port, admin, smtp, control, probe)
        wait_for(lambda: "in_sync" in cli().stdout, what="the node in meridian nodes")
        stop_group(node)
        node = None

        forgot = cli("forget", "eu-1")
        assert forgot.returncode == 0 and forgot.stdout.startswith("forgot eu-1 (eu, https://127.0.0.1:"), forgot.stdout + forgot.stderr
        assert "eu-1" not in cli().stdout
        again = cli("forget", "eu-1")
        assert again.returncode != 0 and "no node with id eu-1" in again.stderr, again.stdout + again.stderr
        status, audit = api(port, "GET", "/v1/audit?limit=100", admin)
        assert [e["target"] for e in audit["items"] if e["action"] == "node.forget"] == ["node/eu-1"]

        # Still running after all, it is refused and does not come back by itself.
        node = start_node(work, coordinator.node_port, None, smtp, control, probe)
        wait_for(lambda: "eu-1 is not enrolled here" in open(os.path.join(work, "node.log")).read(), what="the refusal in the node's log")
        assert "eu-1" not in cli().stdout
        stop_group(node)
        # Enrolled again, it joins with the new token.
        enrolled = cli("enroll", "eu", "eu-1", "--control-url", f"https://127.0.0.1:{control}")
        assert enrolled.returncode == 0 and "join token" in enrolled.stdout, enrolled.stdout + enrolled.stderr
        node = start_node(work, coordinator.node_port, enrolled.stdout.strip().splitlines()[-1], smtp, control, probe)
        wait_for(lambda: "in_sync" in cli().stdout, what="the node back after enrolling again")
    finally:
        kill_left_running(node, coordinator)


def test_a_node_does_not_join_a_coordinator_its_token_does_not_pin(tmp_path):
    """A join token pins the coordinator CA it came from: a node given another coordinator's address refuses
    before it sends the token, and the token stays good for the right one."""
    work = str(tmp_path)
    port, other_port, smtp, control, probe = free_port(), free_port(), free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    os.makedirs(os.path.join(work, "other"))
    other, other_data = start_coordinator(os.path.join(work, "other"), other_port)
    node = None
    try:
        admin = first_admin(data, port)
        first_admin(other_data, other_port)
        token = enroll(port, admin, "eu", "eu-1", control)
        node = start_node(work, other.node_port, token, smtp, control, probe)
        assert node.wait(timeout=60) != 0
        log = open(os.path.join(work, "node.log")).read()
        assert "but the join token pins" in log, log[-2000:]
        status, nodes = api(port, "GET", "/v1/nodes", admin)
        assert nodes["nodes"][0]["enrollment"] == "enrolled", "the token was not spent"
        node = start_node(work, coordinator.node_port, token, smtp, control, probe)
        wait_for(lambda: api(port, "GET", "/v1/nodes", admin)[1]["nodes"][0]["enrollment"] == "active", what="the join")
    finally:
        kill_left_running(node, coordinator)
        kill_left_running(None, other)
