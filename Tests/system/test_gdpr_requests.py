"""A data-subject request through a real coordinator and the CLI: the confirmation code reaches the subject's
address through the smarthost (an SMTP server here), and the code from that e-mail verifies the ticket."""

import json
import os
import re
import subprocess

from harness import MERIDIAN, ROOT, SMTPSink, first_admin, free_port, start_coordinator, wait_for


def test_the_code_reaches_the_subject_and_verifies_the_ticket(tmp_path):
    smtp = SMTPSink()
    port = free_port()
    coordinator, data = start_coordinator(str(tmp_path), port, extra=["--smarthost", f"127.0.0.1:{smtp.port}"])
    try:
        admin = first_admin(data, port)
        env = dict(os.environ, MERIDIAN_TOKEN=admin, MERIDIAN_URL=f"http://127.0.0.1:{port}")

        def cli(*args, check=True):
            result = subprocess.run([MERIDIAN, "gdpr", *args], cwd=ROOT, capture_output=True, text=True, env=env)
            assert not check or result.returncode == 0, result.stdout + result.stderr
            return result

        created = json.loads(cli("create", "--type", "erasure", "--email", "alice@example.org", "--json").stdout)
        assert created["state"] == "identity_pending"
        bad = cli("create", "--type", "erasure", "--email", "alice at example", check=False)
        assert bad.returncode != 0 and 'subject.email "alice at example" is not an e-mail address' in bad.stderr

        wait_for(lambda: smtp.messages, timeout=30, what="the code e-mail")
        mail = smtp.messages[0]
        assert mail["to"] == ["<alice@example.org>"]
        code = re.search(rb"\b(\d{8})\b", mail["data"]).group(1).decode()

        wrong = cli("verify", created["id"], "--code", "00000000", check=False)
        assert wrong.returncode != 0 and "4 attempts left" in wrong.stderr
        verified = json.loads(cli("verify", created["id"], "--code", code, "--json").stdout)
        assert verified["state"] == "verified" and verified["verification_method"] == "code"
        out_of_order = cli("move", created["id"], "completed", check=False)
        assert out_of_order.returncode != 0 and "cannot become completed" in out_of_order.stderr
        cli("move", created["id"], "in_progress")
        listed = cli("list", "--open").stdout
        assert created["id"] in listed and "in_progress" in listed
    finally:
        coordinator.terminate()
        coordinator.wait(timeout=30)
        smtp.close()
