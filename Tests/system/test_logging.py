"""Process logs: with MERIDIAN_LOG_FORMAT=json every log line is one JSON object with its metadata, a message
is logged with its id, and a client's IP address never appears whole (masked as analytics data is)."""

import json
import os
import subprocess

from harness import Node, WebhookSink, customer, send, wait_for


class JSONLogNode(Node):
    def start(self):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, LOG_LEVEL="debug", MERIDIAN_LOG_FORMAT="json")
        # The banner goes to standard output; the logs, and only they, to standard error.
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        wait_for(self.ready, timeout=30, what=f"the node to listen (log: {self.log_path})")


def test_json_logs_carry_ids_and_mask_addresses(tmp_path):
    sink = WebhookSink()
    node = JSONLogNode(str(tmp_path), [customer("cus_acme", "acme.example", sink.url("/ok"))])
    try:
        assert send(node.smtp_port, rcpt="x@acme.example")[0] == 250
        wait_for(lambda: sink.posts("/ok"), what="the delivery")
        node.stop()
        lines = [line for line in open(node.log_path).read().splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]
        assert all({"time", "level", "label", "message"} <= set(r) for r in records)
        [accepted] = [r for r in records if r["message"] == "smtp: accepted"]
        assert accepted["level"] == "debug" and accepted["metadata"]["message"].startswith("eml_")
        assert accepted["metadata"]["remote_ip"] == "127.0.0.0", "the client address is masked"
        assert "127.0.0.1" not in json.dumps([r.get("metadata", {}).get("remote_ip") for r in records])
    finally:
        node.stop()
        sink.close()
