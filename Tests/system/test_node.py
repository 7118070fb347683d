"""End-to-end tests of `meridian node` over loopback: real SMTP clients (smtplib, swaks, raw sockets) send to
a node built from this tree, which delivers to a real HTTP sink; DSNs go to a real SMTP sink."""

import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest
from standardwebhooks import Webhook

from harness import MERIDIAN, ROOT, SECRET, Node, SMTPSink, customer, fetch, free_port, message, send, wait_for
from pki import PKI_SHARED, Authority


def test_sync_mode_replies_follow_the_webhook(workdir, sink, nodes):
    paths = {"ok": "/ok", "refuse": "/refuse", "fail": "/fail", "hang": "/hang", "redirect": "/redirect"}
    node = Node(workdir, [customer(f"cus_{name}", f"{name}.example", sink.url(path), mode="sync") for name, path in paths.items()])
    nodes.append(node)

    code, text = send(node.smtp_port, rcpt="x@ok.example")
    assert code == 250 and "Delivered" in text
    code, text = send(node.smtp_port, rcpt="x@refuse.example")
    assert code == 550 and "422" in text and "unknown mailbox, go away" in text
    code, text = send(node.smtp_port, rcpt="x@fail.example")
    assert code == 451 and "503" in text
    started = time.monotonic()
    code, text = send(node.smtp_port, rcpt="x@hang.example")
    assert code == 451 and "no answer within the webhook timeout" in text
    assert time.monotonic() - started < 10
    code, text = send(node.smtp_port, rcpt="x@redirect.example")
    assert code == 451 and "redirects are not followed" in text
    assert len(sink.posts("/redirect")) == 1, "a redirect must not be followed"

    # The payload is CloudMailin's JSON, signed per Standard Webhooks.
    post = sink.posts("/ok")[0]
    payload = Webhook(SECRET).verify(post["body"], {k.lower(): v for k, v in post["headers"].items()})
    assert payload["envelope"]["to"] == "x@ok.example" and payload["headers"]["subject"] == "Hello"
    assert payload["meridian"]["config_version"] == 1

    # Each outcome is in the metadata store, with the server response.
    (record,) = node.messages("cus_refuse")
    assert record["status"] == "rejected" and "422" in record["metadata"]["server_response"]
    (record,) = node.messages("cus_ok")
    assert record["status"] == "delivered" and record["mode"] == "sync"


def test_an_endpoint_that_refuses_the_connection_is_reported_at_once(workdir, nodes):
    # A port bound and never listened on: Linux refuses connections to it while the test holds it. The webhook
    # timeout is 20 s; before the client stopped retrying the egress proxy's 502, the sender waited out the
    # connect timeout (10 s) for the refusal.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
        node = Node(workdir, [customer("cus_down", "down.example", url, mode="sync")], webhook_timeout=20)
        nodes.append(node)
        started = time.monotonic()
        code, text = send(node.smtp_port, rcpt="x@down.example")
        elapsed = time.monotonic() - started
    assert code == 451 and "4.3.0" in text and "connection refused" in text, (code, text)
    assert elapsed < 8, f"the refusal took {elapsed:.1f} s"
    (record,) = node.messages("cus_down")
    assert "connection refused" in record["metadata"]["server_response"], record


def test_sync_customer_gets_its_own_transaction(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_a", "a.example", sink.url("/ok"), mode="sync"),
                          customer("cus_b", "b.example", sink.url("/ok"), mode="queued")])
    nodes.append(node)
    with smtplib.SMTP("127.0.0.1", node.smtp_port) as smtp:
        smtp.ehlo()
        smtp.mail("s@sender.example")
        assert smtp.rcpt("one@a.example")[0] == 250
        code, text = smtp.rcpt("two@b.example")
        assert code == 452 and b"4.5.3" in text and b"separate transaction" in text


def test_queued_mode_with_starttls_via_swaks(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"), redactions=["subject"])], tls=True)
    nodes.append(node)
    result = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{node.smtp_port}", "--tls", "--to", "inbox@acme.example", "--from", "bob@sender.example",
         "--header", "Subject: over TLS", "--body", "secret text"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 2.0.0 Queued as eml_" in result.stdout
    wait_for(lambda: sink.posts("/ok"), what="the queued delivery")
    payload = json.loads(sink.posts("/ok")[0]["body"])
    assert payload["envelope"]["tls"] is True and payload["envelope"]["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert payload["plain"].strip() == "secret text"
    record = wait_for(lambda: [r for r in node.messages("cus_acme") if r["status"] == "delivered"], what="status delivered")[0]
    assert "subject" not in record["metadata"] and record["metadata"]["redacted"] == ["subject"]
    assert record["metadata"]["tls_version"] == payload["envelope"]["tls_version"]
    assert record["attempts"] == 1 and record["metadata"]["server_response"].startswith("200")


def test_queued_mode_retries_through_an_outage(workdir, sink, nodes):
    sink.outage.set()
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/outage"))])
    nodes.append(node)
    code, text = send(node.smtp_port)
    assert code == 250
    wait_for(lambda: len(sink.posts("/outage")) >= 2, what="two failed attempts")
    (record,) = node.messages("cus_acme")
    assert record["status"] == "queued" and record["attempts"] >= 1 and "503" in record["final_reason"]
    sink.outage.clear()
    wait_for(lambda: node.messages("cus_acme")[0]["status"] == "delivered", what="delivery after the outage")
    ids = {p["headers"]["webhook-id"] for p in sink.posts("/outage")}
    assert len(ids) == 1, "every attempt carries the same webhook-id"
    message_id = node.messages("cus_acme")[0]["message_id"]
    status, _, body = node.get(f"/v1/messages/{message_id}/0")
    attempts = json.loads(body)["attempts"]
    assert [a["outcome"] for a in attempts][-1] == "delivered" and attempts[0]["status_code"] == 503


def test_a_message_delivered_after_a_config_change_says_which_version_each_attempt_used(workdir, sink, nodes):
    """Accepted under version 1, whose webhook is down; delivered after version 2 pointed it elsewhere. The
    delivery follows version 2, and the payload and the attempts say so; the metadata keeps the version the
    message was accepted under."""
    sink.outage.set()
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/outage"))])
    nodes.append(node)
    assert send(node.smtp_port)[0] == 250
    wait_for(lambda: len(sink.posts("/outage")) >= 1, what="the first attempt, under version 1")
    node.write_bundle(2, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    wait_for(lambda: sink.posts("/ok"), what="the delivery under version 2", timeout=30)
    failed, delivered = sink.posts("/outage")[0], sink.posts("/ok")[0]
    assert json.loads(failed["body"])["meridian"]["config_version"] == 1
    assert json.loads(delivered["body"])["meridian"]["config_version"] == 2
    assert failed["headers"]["webhook-id"] == delivered["headers"]["webhook-id"]
    record = wait_for(lambda: [r for r in node.messages("cus_acme") if r["status"] == "delivered"], what="status delivered")[0]
    assert record["metadata"]["config_version"] == 1, "the version the message was accepted under"
    status, _, body = node.get(f"/v1/messages/{record['message_id']}/0")
    attempts = json.loads(body)["attempts"]
    assert status == 200 and attempts[0]["config_version"] == 1 and attempts[-1]["config_version"] == 2, attempts


def test_pinned_elsewhere_gets_451_and_nothing_is_stored(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))],
                elsewhere=[{"domain": "pinned-us.example", "region": "us", "mx_host": "us.mx.meridian.example"}])
    nodes.append(node)
    code, text = send(node.smtp_port, rcpt="someone@pinned-us.example", body="pinned content must not be stored\n")
    assert code == 451 and "4.7.1" in text and "us.mx.meridian.example" in text
    time.sleep(0.5)
    assert sink.posts() == []
    spool = os.path.join(node.data, "spool")
    for name in os.listdir(spool):
        assert b"pinned content" not in open(os.path.join(spool, name), "rb").read()
    status, _, body = node.get("/v1/status")
    assert json.loads(body)["deliveries"] == {}


def test_client_vanishing_mid_data_delivers_nothing(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    with socket.create_connection(("127.0.0.1", node.smtp_port)) as s:
        for command in [b"EHLO c.test\r\n", b"MAIL FROM:<a@sender.example>\r\n", b"RCPT TO:<inbox@acme.example>\r\n", b"DATA\r\n"]:
            s.sendall(command)
            time.sleep(0.1)
        s.sendall(b"Subject: half\r\n\r\nthe first half of the mess")
        time.sleep(0.2)
    time.sleep(1)
    assert sink.posts() == []
    assert node.messages("cus_acme") == []


def test_dsn_after_the_queue_lifetime(workdir, sink, nodes):
    smtp_sink = SMTPSink()
    try:
        node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/fail"))], lifetime="4s", smarthost=smtp_sink.port)
        nodes.append(node)
        code, _ = send(node.smtp_port, sender="bounce-me@sender.example", subject="Will fail")
        assert code == 250
        wait_for(lambda: smtp_sink.messages, timeout=30, what="the DSN at the smarthost")
        (dsn,) = smtp_sink.messages
        assert dsn["from"] == "<>" and dsn["to"] == ["<bounce-me@sender.example>"]
        text = dsn["data"].decode()
        assert "multipart/report; report-type=delivery-status" in text
        assert "Final-Recipient: rfc822; inbox@acme.example" in text and "Action: failed" in text and "Status: 5.4.7" in text
        assert "Subject: Will fail" in text  # the original header, as text/rfc822-headers
        record = wait_for(lambda: [r for r in node.messages("cus_acme") if r["status"] == "failed"], what="status failed")[0]
        assert "queue lifetime" in record["final_reason"] and "DSN sent to bounce-me@sender.example" in record["final_reason"]
        assert len(sink.posts("/fail")) >= 2
    finally:
        smtp_sink.close()


def test_a_dsn_the_smarthost_refuses_is_retried(workdir, sink, nodes):
    port = free_port()  # nothing listens here yet: the smarthost is down
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/refuse"))], smarthost=port)
    nodes.append(node)
    assert send(node.smtp_port, sender="retry-me@sender.example")[0] == 250
    wait_for(lambda: "is being retried" in (node.messages("cus_acme")[0].get("final_reason") or ""), what="a failed DSN attempt")
    smtp_sink = SMTPSink(port)
    try:
        wait_for(lambda: smtp_sink.messages, timeout=20, what="the DSN once the smarthost is up")
        assert smtp_sink.messages[0]["to"] == ["<retry-me@sender.example>"]
        wait_for(lambda: "DSN sent" in node.messages("cus_acme")[0]["final_reason"], what="the final reason")
        assert len(sink.posts("/refuse")) == 1, "only the DSN is retried, not the refused delivery"
    finally:
        smtp_sink.close()


def test_endpoint_refusal_fails_at_once_and_null_sender_gets_no_dsn(workdir, sink, nodes):
    smtp_sink = SMTPSink()
    try:
        node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/refuse"))], smarthost=smtp_sink.port)
        nodes.append(node)
        assert send(node.smtp_port, sender="")[0] == 250
        record = wait_for(lambda: [r for r in node.messages("cus_acme") if r["status"] == "failed"], what="status failed")[0]
        assert "refused" in record["final_reason"] and "no DSN (null sender)" in record["final_reason"]
        assert record["attempts"] == 1 and smtp_sink.messages == []
    finally:
        smtp_sink.close()


def test_huge_response_does_not_stall_delivery(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/huge"))])
    nodes.append(node)
    assert send(node.smtp_port)[0] == 250
    wait_for(lambda: node.messages("cus_acme")[0]["status"] == "delivered", timeout=15, what="delivery despite a 50 MB answer")


def test_kill_9_during_load_loses_nothing_that_got_250(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    accepted, lock, stop = set(), threading.Lock(), threading.Event()
    total, threads = 2400, 12

    def client(worker):
        sent = 0
        while sent < total // threads and not stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", node.smtp_port, timeout=30) as smtp:
                    smtp.ehlo()
                    while sent < total // threads:
                        seq = f"{worker}-{sent}"
                        smtp.mail("load@sender.example")
                        smtp.rcpt("inbox@acme.example")
                        code, _ = smtp.data(message(subject=f"load {seq}", extra=f"X-Seq: {seq}\r\n"))
                        sent += 1
                        if code == 250:
                            with lock:
                                accepted.add(seq)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.2)  # the node is down: retry, as a real sender would
                if stop.is_set():
                    return

    workers = [threading.Thread(target=client, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    wait_for(lambda: len(accepted) >= total // 3, timeout=120, what="a third of the load accepted")
    assert node.kill() == -signal.SIGKILL
    killed_at = len(accepted)
    node.start()
    for w in workers:
        w.join(timeout=300)
    stop.set()
    assert len(accepted) >= total * 0.9, f"only {len(accepted)} of {total} accepted"

    def seen():
        return {json.loads(p["body"])["headers"]["x_seq"] for p in sink.posts("/ok")}

    wait_for(lambda: accepted <= seen(), timeout=180, interval=0.5, what="every accepted message at the sink")
    lost = accepted - seen()
    print(f"\nkill -9 under load: {len(accepted)} got 250 ({killed_at} before the kill), {len(sink.posts('/ok'))} posts, "
          f"{len(sink.posts('/ok')) - len(seen())} duplicates, {len(lost)} lost")
    assert not lost


def test_full_spool_disk_answers_452_never_250(workdir, sink, nodes):
    spool = os.path.join(workdir, "small-spool")
    os.makedirs(spool)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", spool], capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    try:
        node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/fail"))], spool=spool)
        nodes.append(node)
        big = message(body="x" * 998 + "\r\n") * 1  # a small message fits
        assert send(node.smtp_port, data=big)[0] == 250
        huge = message(body=("y" * 998 + "\r\n") * 1500)  # 1.5 MB does not fit in 1 MB
        code, text = send(node.smtp_port, data=huge)
        assert code == 452 and "4.3.1" in text
        assert send(node.smtp_port)[0] == 250, "after a refused write the spool takes small messages again"
        node.kill()
        node.start()  # the records before and after the failed write are intact
        assert sum(1 for r in node.messages("cus_acme")) == 2
    finally:
        for n in nodes:
            n.stop()
        nodes.clear()
        subprocess.run(["umount", spool])


def test_graceful_shutdown_finishes_the_transaction_in_flight(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    with socket.create_connection(("127.0.0.1", node.smtp_port), timeout=10) as s:
        reader = s.makefile("rb")
        reader.readline()
        for command in [b"EHLO c.test\r\n", b"MAIL FROM:<a@sender.example>\r\n", b"RCPT TO:<inbox@acme.example>\r\n", b"DATA\r\n"]:
            s.sendall(command)
            while True:
                line = reader.readline()
                if line[3:4] != b"-":
                    break
        s.sendall(b"Subject: in flight\r\n\r\nfirst half ")
        node.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        s.sendall(b"second half\r\n.\r\n")
        assert reader.readline().startswith(b"250 2.0.0 Queued")
        assert reader.readline().startswith(b"421 4.3.2")
    assert node.process.wait(timeout=30) == 0
    # A fresh start delivers what was spooled before the shutdown, if the old process did not.
    node.start()
    wait_for(lambda: any(b"in flight" in p["body"] for p in sink.posts("/ok")), what="the spooled message delivered")


def test_control_api_lets_only_the_coordinator_in_and_answers_problems(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    assert send(node.smtp_port)[0] == 250
    # No certificate, a node's certificate, one of another CA, plain HTTP: the TLS handshake refuses them all.
    anonymous = ssl.create_default_context(cadata=PKI_SHARED.node_ca.pem)
    another_node = PKI_SHARED.client_context(workdir, issuer=PKI_SHARED.node_ca, uri="spiffe://meridian.test/region/eu/node/eu-2")
    stranger = PKI_SHARED.client_context(workdir, issuer=Authority("someone else's CA"))
    for context in (anonymous, another_node, stranger):
        with pytest.raises(OSError):
            node.get("/v1/messages?customer_id=cus_acme", context=context)
    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{node.control_port}/v1/status")
    # The probe port answers no query of personal data.
    assert node.probe("/v1/messages?customer_id=cus_acme")[0] == 404
    assert node.probe("/v1/status")[0] == 200 and node.probe("/healthz")[0] == 200
    for query, needle in [("", "customer_id is required"), ("customer_id=c&since=yesterday", "since"),
                          ("customer_id=c&limit=0", "limit"), ("customer_id=c&colour=red", "unknown query parameter")]:
        status, content_type, body = node.get(f"/v1/messages?{query}")
        assert status == 400 and content_type == "application/problem+json" and needle in json.loads(body)["detail"], body
    assert node.get("/v1/messages/eml_nope/0")[0] == 404
    assert node.get("/nowhere")[0] == 404
    wait_for(lambda: node.messages("cus_acme")[0]["status"] == "delivered", what="delivery")
    # Query by sender, recipient, Message-ID and time.
    assert len(node.messages("cus_acme", sender="ALICE@sender.example")) == 1
    assert node.messages("cus_acme", recipient="other@acme.example") == []
    assert len(node.messages("cus_acme", message_id="<Hello@sender.example>")) == 1
    assert node.messages("cus_acme", since="2099-01-01T00:00:00Z") == []
    status, _, body = node.probe("/metrics")
    text = body.decode()
    assert status == 200 and 'meridian_smtp_messages_accepted_total{region="eu"} 1' in text
    assert 'meridian_delivery_attempts_total{region="eu",result="delivered"} 1' in text or \
           'meridian_delivery_attempts_total{result="delivered",region="eu"} 1' in text
    assert "meridian_queue_depth" in text and "meridian_smtp_transaction_seconds_bucket" in text
    assert "meridian_node_certificate_expiry_timestamp_seconds" in text
    # The node's private key never shows in the log.
    key = open(os.path.join(node.data, "identity", "node.pem")).read().split("-----BEGIN PRIVATE KEY-----")[1].split("-----END")[0]
    assert key.strip().splitlines()[1] not in open(node.log_path).read()


def test_a_new_bundle_applies_and_a_bad_one_is_refused(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    assert send(node.smtp_port, rcpt="x@new.example")[0] == 550
    node.write_bundle(2, [customer("cus_acme", "acme.example", sink.url("/ok")), customer("cus_new", "new.example", sink.url("/ok"))])
    wait_for(lambda: json.loads(node.get("/v1/status")[2])["config_version"] == 2, what="version 2 applied")
    assert send(node.smtp_port, rcpt="x@new.example")[0] == 250
    node.write_bundle(3, [customer("cus_bad", "bad.example", "ftp://nowhere")])
    time.sleep(2.5)
    assert json.loads(node.get("/v1/status")[2])["config_version"] == 2
    assert "version 2 stays in force" in open(node.log_path).read()


def test_node_refuses_bad_flags_and_bundles_with_clear_errors(workdir):
    from harness import MERIDIAN, ROOT
    def run(*args):
        return subprocess.run([MERIDIAN, "node", *args], capture_output=True, text=True, timeout=30, cwd=ROOT)
    result = run("--region", "mars")
    assert result.returncode != 0 and "--region mars: no such region" in result.stderr
    result = run("--region", "eu", "--smarthost", "host:notaport")
    assert result.returncode != 0 and "--smarthost host:notaport" in result.stderr
    result = run("--region", "eu", "--coordinator", "http://127.0.0.1:8443")
    assert result.returncode != 0 and "expected the coordinator's node port, such as https://" in result.stderr
    # One URL per replica: each is checked, and none twice.
    result = run("--region", "eu", "--coordinator", "https://a.internal:8443,ftp://b.internal")
    assert result.returncode != 0 and "--coordinator ftp://b.internal: expected the coordinator's node port" in result.stderr
    result = run("--region", "eu", "--coordinator", "https://a.internal:8443", "--coordinator", "https://a.internal:8443")
    assert result.returncode != 0 and "--coordinator https://a.internal:8443: given twice" in result.stderr
    result = run("--region", "eu", "--coordinator", "https://127.0.0.1:8443", "--join", "mrd_not_a_join_token")
    assert result.returncode != 0 and "--join: not a join token" in result.stderr
    flags = ("--region", "eu", "--data-dir", workdir, "--smtp-port", "0", "--control-port", "0", "--probe-port", "0")
    result = run(*flags)
    assert result.returncode != 0 and "this node has not joined a coordinator" in result.stderr and "--join TOKEN" in result.stderr
    PKI_SHARED.write_identity(workdir, "eu", "eu-1", 9101)
    bundle = os.path.join(workdir, "bundle.json")
    open(bundle, "w").write(json.dumps({"version": 1, "region": "eu", "customers": []}))
    result = run(*flags, "--bundle", bundle)
    assert result.returncode != 0 and "expected a signed bundle" in result.stderr, "there is no unsigned mode"
    open(bundle, "w").write(json.dumps(PKI_SHARED.sign({"version": 1, "region": "us", "customers": []})))
    result = run(*flags, "--bundle", bundle)
    assert result.returncode != 0 and "the bundle is for region us, this node serves eu" in result.stderr
    result = run("--region", "us", "--data-dir", workdir, "--smtp-port", "0", "--control-port", "0", "--probe-port", "0")
    assert result.returncode != 0 and "joined as eu-1 of region eu, but was started with --region us" in result.stderr


def test_connection_limits_and_idle_timeout(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))], idle_timeout=1,
                extra=["--max-connections-per-ip", "2"])
    nodes.append(node)
    first, second = (socket.create_connection(("127.0.0.1", node.smtp_port), timeout=10) for _ in range(2))
    for s in (first, second):
        assert s.recv(200).startswith(b"220 ")
    with socket.create_connection(("127.0.0.1", node.smtp_port), timeout=10) as third:
        assert third.recv(200).startswith(b"421 4.7.0 Too many connections from 127.0.0.1")
        assert third.recv(200) == b"", "the refused connection is closed"
    # Both held sessions say nothing: after the idle timeout each gets 421 4.4.2 and is closed.
    for s in (first, second):
        assert s.recv(200).startswith(b"421 4.4.2")
        s.close()
    # With the slots free again, mail goes through.
    assert send(node.smtp_port)[0] == 250
    status, _, body = node.probe("/metrics")
    assert 'code="421"' in body.decode()


def test_a_command_trickled_a_byte_at_a_time_is_cut_off_at_the_idle_timeout(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))], idle_timeout=2)
    nodes.append(node)
    with socket.create_connection(("127.0.0.1", node.smtp_port), timeout=10) as slow:
        assert slow.recv(200).startswith(b"220 ")
        started = time.monotonic()
        answer = b""
        for byte in b"EHLO slow.loris.example":  # a byte every 0.5 s: the idle timeout alone never fires
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                break
            slow.settimeout(0.5)
            try:
                answer = slow.recv(200)
            except socket.timeout:
                continue
            break
        assert answer.startswith(b"421 4.4.2 Command line not completed in time"), answer
        assert time.monotonic() - started < 8
    assert send(node.smtp_port)[0] == 250, "whole commands within the timeout are untouched"


def test_message_data_trickled_below_the_floor_rate_is_cut_off(workdir, sink, nodes):
    """Each line resets the idle timer, so a client trickling its message a line at a time is bounded only by the
    floor rate: the idle timeout plus a second per --min-data-rate bytes (Postfix's smtpd_min_data_rate)."""
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))], idle_timeout=2, extra=["--min-data-rate", "100"])
    nodes.append(node)
    def at_data(rcpt):
        """A session that has reached DATA; returns the socket and a reader of its replies."""
        connection = socket.create_connection(("127.0.0.1", node.smtp_port), timeout=10)
        reader = connection.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        for command in (b"HELO client.example", b"MAIL FROM:<a@sender.example>", f"RCPT TO:<{rcpt}>".encode(), b"DATA"):
            connection.sendall(command + b"\r\n")
            assert reader.readline()[:1] in (b"2", b"3")
        return connection, reader

    slow, _ = at_data("trickle@acme.example")
    with slow:
        started = time.monotonic()
        answer = b""
        slow.settimeout(0.5)
        for _ in range(40):  # 12 bytes every 0.5 s: 24 bytes/s, well under 100
            try:
                slow.sendall(b"Subject: x\r\n")
                answer = slow.recv(200)
            except socket.timeout:
                continue
            except OSError:
                break
            break
        assert answer.startswith(b"421 4.4.2 Message data arriving too slowly"), answer
        assert 2 <= time.monotonic() - started < 6
    # A client that pauses within the idle timeout but keeps above the floor overall is untouched.
    client, reader = at_data("paused@acme.example")
    with client:
        body = b"Subject: paused\r\n\r\n" + b"x" * 70 + b"\r\n"
        client.sendall(body * 1500)
        time.sleep(1.5)
        client.sendall(body * 1500 + b".\r\n")
        assert reader.readline().startswith(b"250 "), "a paused but fast enough client gets its 250"
    wait_for(lambda: len(sink.posts("/ok")) == 1, what="the paused message's delivery")
    time.sleep(0.5)
    posts = sink.posts("/ok")
    assert len(posts) == 1 and "paused@acme.example" in str(posts[0]) and "trickle@acme.example" not in str(posts[0])


def test_a_bad_min_data_rate_is_refused_by_name(workdir):
    bad = subprocess.run([MERIDIAN, "node", "--region", "eu", "--data-dir", workdir, "--min-data-rate=-5"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert bad.returncode != 0 and "--min-data-rate -5: bytes per second, from 0 (no floor) to 100000000" in bad.stderr, bad.stderr


def test_a_second_node_on_the_same_data_directory_refuses_to_start(workdir, sink, nodes):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    args = list(node.args)
    args[args.index("--smtp-port") + 1] = str(free_port())
    args[args.index("--control-port") + 1] = str(free_port())
    args[args.index("--probe-port") + 1] = str(free_port())
    second = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert f"is in use by another node (pid {node.process.pid})" in second.stderr, second.stderr
    assert send(node.smtp_port)[0] == 250, "the first node is untouched"


def test_metadata_written_while_the_store_is_locked_is_kept_and_written_later(workdir, sink, nodes):
    import sqlite3

    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    lock = sqlite3.connect(os.path.join(node.data, "metadata.sqlite"), isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # longer than the store's 5 s busy timeout: its batch fails
    try:
        assert send(node.smtp_port, rcpt="locked@acme.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok")) == 1, what="delivery while the metadata store is locked")
        wait_for(lambda: "could not be written; kept" in open(node.log_path).read(), timeout=15, what="the failed batch in the log")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    records = wait_for(lambda: node.messages("cus_acme"), timeout=10, what="the record written after the lock")
    assert [r["metadata"]["envelope_to"] for r in records] == ["locked@acme.example"]
    wait_for(lambda: node.messages("cus_acme")[0]["status"] == "delivered", what="the delivered status written too")


def test_metadata_the_store_cannot_take_by_shutdown_is_written_at_the_next_start(workdir, sink, nodes):
    import sqlite3

    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    pending = os.path.join(node.data, "metadata-pending.jsonl")
    lock = sqlite3.connect(os.path.join(node.data, "metadata.sqlite"), isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        assert send(node.smtp_port, rcpt="late@acme.example")[0] == 250
        wait_for(lambda: len(sink.posts("/ok")) == 1, what="delivery while the metadata store is locked")
        assert node.kill(signal.SIGTERM) == 0
        assert os.path.exists(pending), open(node.log_path).read()[-2000:]
        assert "for the next start" in open(node.log_path).read()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    node.start()
    records = wait_for(lambda: node.messages("cus_acme"), timeout=10, what="the record written at the next start")
    assert [(r["metadata"]["envelope_to"], r["status"]) for r in records] == [("late@acme.example", "delivered")]
    assert not os.path.exists(pending)
    assert "kept at the last shutdown" in open(node.log_path).read()
    assert len(sink.posts("/ok")) == 1  # delivered once: the spool knew it was done
