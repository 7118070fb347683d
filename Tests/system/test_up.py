"""`meridian up` runs the coordinator and three nodes configured from it: a customer created through the API
gets mail sent over STARTTLS (the self-signed certificate up made), and the coordinator finds it through the
node."""

import json
import signal
import subprocess

from harness import MERIDIAN, ROOT, WebhookSink, api, free_port, wait_for


def test_up_runs_three_nodes_that_deliver(tmp_path):
    sink = WebhookSink()
    data = str(tmp_path / "data")
    offset = free_port() % 20000 + 2000  # below the ephemeral range, where outgoing connections could hold a port
    up = subprocess.Popen([MERIDIAN, "up", "--data-dir", data, "--port-offset", str(offset)], cwd=ROOT,
                          stdout=open(tmp_path / "up.log", "wb"), stderr=subprocess.STDOUT)
    try:
        log = lambda: open(tmp_path / "up.log").read()
        wait_for(lambda: "stop         Ctrl-C" in log(), timeout=30, what="the up banner")
        for region, port in (("eu", 2525), ("us", 2526), ("ap", 2527)):
            assert f"{region}  smtp 127.0.0.1:{port + offset}" in log()
        token = open(f"{data}/admin-token").read().strip()
        status, created = api(8080 + offset, "POST", "/v1/customers", token, {
            "name": "Up", "contact_email": "ops@up.example", "region": "eu", "domains": ["up.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "queued"}})
        assert status == 201, created
        cid = created["customer"]["id"]
        wait_for(lambda: "region=eu [MeridianNode] node: applied bundle version 2 from a" in log(), what="the push")
        result = subprocess.run(["swaks", "--server", f"127.0.0.1:{2525 + offset}", "--tls", "--to", "hi@up.example",
                                 "--from", "s@sender.example"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "250 2.0.0 Queued as" in result.stdout, result.stdout
        wait_for(lambda: sink.posts("/ok"), what="the webhook POST")
        assert json.loads(sink.posts("/ok")[0]["body"])["envelope"]["tls"] is True
        wait_for(lambda: api(8080 + offset, "GET", f"/v1/customers/{cid}/messages", token)[1].get("messages"), what="the metadata")
        status, page = api(8080 + offset, "GET", f"/v1/customers/{cid}/messages", token)
        assert status == 200 and page["messages"][0]["region"] == "eu", page
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=40) == 0
    finally:
        if up.poll() is None:
            up.kill()
        sink.close()
