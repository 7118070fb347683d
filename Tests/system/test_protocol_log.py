"""The SMTP protocol log with real processes: a coordinator and an eu node with STARTTLS; swaks and smtplib
sessions; the log read through the coordinator by the `security` role only, every read audited, and never a
byte of message content in it."""

import os
import subprocess

from harness import MERIDIAN, RegionNode, WebhookSink, api, first_admin, free_port, prove_domains, start_coordinator, wait_for

SECRET_LINE = "The launch code is 0000 and nobody may log it."


def test_sessions_are_logged_without_content_and_read_only_by_security(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    port = free_port()
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=eu.mx.test"], check=True, capture_output=True)
    coordinator, data = start_coordinator(work, port)
    node = None
    try:
        admin = first_admin(data, port)
        node = RegionNode(work, "eu", coordinator, admin, port, extra=("--tls-cert", cert, "--tls-key", key))
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Acme", "contact_email": "ops@acme.example", "region": "eu", "domains": ["acme.example"],
            "webhook": {"url": sink.url("/in"), "mode": "queued"}})
        assert status == 201, created
        prove_domains(port, admin, created["customer"])
        wait_for(lambda: node.status()["customers"] == 1, what="the customer on the node")
        security = api(port, "POST", "/v1/tokens", admin, {"name": "soc", "role": "security"})[1]["secret"]
        dpo = api(port, "POST", "/v1/tokens", admin, {"name": "dpo", "role": "dpo"})[1]["secret"]

        swaks = subprocess.run(["swaks", "--server", f"127.0.0.1:{node.smtp}", "--tls", "--helo", "mail.sender.example",
                                "--from", "Mallory@Sender.example", "--to", "inbox@acme.example", "--body", SECRET_LINE],
                               capture_output=True, text=True, timeout=60)
        assert swaks.returncode == 0, swaks.stdout + swaks.stderr
        wait_for(lambda: sink.posts("/in"), what="the delivery")
        # A session refused at RCPT is logged as well.
        subprocess.run(["swaks", "--server", f"127.0.0.1:{node.smtp}", "--from", "x@sender.example", "--to", "nobody@unknown.example",
                        "--quit-after", "RCPT"], capture_output=True, timeout=60)

        for token in (admin, dpo):
            assert api(port, "GET", "/v1/smtp-log", token)[0] == 403
        status, log = api(port, "GET", "/v1/smtp-log?address=mallory@sender.example", security)
        assert status == 200, log
        (session,) = log["sessions"]
        assert session["region"] == "eu" and session["client_ip"] == "127.0.0.1" and session["tls_version"] in ("TLSv1.2", "TLSv1.3")
        said = [(line["from"], line["text"]) for line in session["lines"]]
        assert ("C", "STARTTLS") in said and ("C", "MAIL FROM:<Mallory@Sender.example>") in said
        assert ("C", "RCPT TO:<inbox@acme.example>") in said and ("C", "DATA") in said
        assert any(f == "S" and t.startswith("250 2.0.0 Queued as eml_") for f, t in said)
        assert any(f == "T" for f, _ in said)
        assert all(SECRET_LINE not in t and "launch code" not in t for _, t in said), "message content is never logged"
        assert [line["at"] for line in session["lines"]] == sorted(line["at"] for line in session["lines"])
        cli = subprocess.run([MERIDIAN, "smtp-log", "--address", "mallory@sender.example", "--url", f"http://127.0.0.1:{port}"],
                             capture_output=True, text=True, env=dict(os.environ, MERIDIAN_TOKEN=security), timeout=60)
        assert cli.returncode == 0 and "C MAIL FROM:<Mallory@Sender.example>" in cli.stdout, cli.stdout + cli.stderr
        status, everything = api(port, "GET", "/v1/smtp-log", security)
        assert len(everything["sessions"]) == 2
        refused = [s for s in everything["sessions"] if s["session"] != session["session"]][0]
        assert any(line["text"].startswith("550") for line in refused["lines"])
        assert api(port, "GET", "/v1/smtp-log?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", security)[0] == 400

        # No file a node keeps shows the content either, and the log is owner-only.
        directory = os.path.join(work, "node-eu", "protocol-log")
        (day,) = os.listdir(directory)
        assert SECRET_LINE not in open(os.path.join(directory, day)).read()
        assert os.stat(os.path.join(directory, day)).st_mode & 0o077 == 0

        status, audit = api(port, "GET", "/v1/audit?limit=500", admin)
        reads = [e for e in audit["items"] if e["action"] == "smtp_log.read"]
        assert len(reads) >= 2 and reads[-1]["actor_role"] == "security"
        assert any(e["detail"].get("address") == "mallory@sender.example" for e in reads)
    finally:
        if node:
            node.stop()
        coordinator.terminate()
        coordinator.wait(timeout=30)
        sink.close()
