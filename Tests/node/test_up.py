"""`meridian up` runs the coordinator and three nodes; with a bundle in DIR/node-eu, mail sent over STARTTLS
(the self-signed certificate up made) reaches the webhook, and the coordinator finds it through the node."""

import json
import os
import signal
import subprocess
import urllib.request

from harness import MERIDIAN, ROOT, WebhookSink, customer, free_port, wait_for


def test_up_runs_three_nodes_that_deliver(tmp_path):
    sink = WebhookSink()
    data = str(tmp_path / "data")
    offset = free_port() % 20000 + 20000
    up = subprocess.Popen([MERIDIAN, "up", "--data-dir", data, "--port-offset", str(offset)], cwd=ROOT,
                          stdout=open(tmp_path / "up.log", "wb"), stderr=subprocess.STDOUT)
    try:
        log = lambda: open(tmp_path / "up.log").read()
        wait_for(lambda: "stop         Ctrl-C" in log(), timeout=30, what="the up banner")
        for region, port in (("eu", 2525), ("us", 2526), ("ap", 2527)):
            assert f"{region}  smtp 127.0.0.1:{port + offset}" in log()
        os.makedirs(f"{data}/node-eu", exist_ok=True)
        with open(f"{data}/node-eu/bundle.json", "w") as f:
            json.dump({"version": 1, "region": "eu", "customers": [customer("cus_up", "up.example", sink.url("/ok"))]}, f)
        wait_for(lambda: "applied bundle version 1" in log(), what="the bundle applied")
        result = subprocess.run(["swaks", "--server", f"127.0.0.1:{2525 + offset}", "--tls", "--to", "hi@up.example",
                                 "--from", "s@sender.example"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "250 2.0.0 Queued as" in result.stdout, result.stdout
        wait_for(lambda: sink.posts("/ok"), what="the webhook POST")
        assert json.loads(sink.posts("/ok")[0]["body"])["envelope"]["tls"] is True
        token = open(f"{data}/admin-token").read().strip()
        request = urllib.request.Request(f"http://127.0.0.1:{8080 + offset}/v1/customers/cus_up/messages",
                                         headers={"Authorization": f"Bearer {token}"})
        # cus_up exists only in the hand-written bundle, not in the coordinator: 404 until config push.
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("expected 404")
        except urllib.error.HTTPError as error:
            assert error.code == 404
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=40) == 0
    finally:
        if up.poll() is None:
            up.kill()
        sink.close()
