"""Spam and virus scanning on a real node with real engines beside it: rspamd (Debian's package, its HTTP
/checkv2 protocol) with GTUBE, clamd (INSTREAM) with the EICAR test file, and each customer's policy applied
inside the SMTP transaction (550 5.7.1 before the 250, 451 4.7.0 to defer). Scanner faults: clamd down, an
HTTP server that answers rspamd's URL with garbage, a scanner that never answers."""

import base64
import smtplib
import socket
import threading
import time

import pytest
from standardwebhooks import Webhook

from harness import EICAR, SECRET, Clamd, DNSZone, Node, Rspamd, customer, message, wait_for

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("engines"))
    dns = DNSZone()
    rspamd = Rspamd(work, dns)
    clamd = Clamd(work)
    yield rspamd, clamd
    rspamd.stop()
    clamd.stop()
    dns.close()


def filtered(cid, domain, url, mode="sync", **policy):
    entry = customer(cid, domain, url, mode=mode)
    if policy:
        entry["filtering"] = {"spam_mode": "mark", "spam_threshold": 6, "virus_mode": "reject", "reject_dmarc_failures": False,
                              "on_scanner_failure": "pass", **policy}
    return entry


def scanning_node(workdir, customers, rspamd=None, clamd=None, extra=()):
    args = list(extra)
    if rspamd:
        args += ["--rspamd", rspamd]
    if clamd:
        args += ["--clamd", clamd]
    args += ["--scan-timeout", "3"]
    return Node(workdir, customers, extra=tuple(args))


def with_attachment(subject, payload, name="invoice.pdf.exe"):
    encoded = base64.b64encode(payload).decode()
    return (f"From: Alice <alice@sender.example>\r\nTo: inbox@acme.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@sender.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
            "--b1\r\nContent-Type: text/plain\r\n\r\nPlease see the attachment.\r\n"
            f"--b1\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
            "--b1\r\nContent-Type: text/plain; name=\"notes.txt\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n"
            "harmless notes\r\n--b1--\r\n")


def deliver(node, data, rcpts=("inbox@acme.example",), sender="alice@sender.example"):
    with smtplib.SMTP("127.0.0.1", node.smtp_port, timeout=60) as smtp:
        smtp.ehlo("mail.sender.example")
        smtp.mail(sender)
        refused = {}
        for rcpt in rcpts:
            code, text = smtp.rcpt(rcpt)
            if code != 250:
                refused[rcpt] = (code, text.decode())
        code, text = smtp.data(data)
        return code, text.decode(), refused


def payload_of(sink, path="/in", index=-1):
    post = sink.posts(path)[index]
    return Webhook(SECRET).verify(post["body"], {k.lower(): v for k, v in post["headers"].items()})


def test_a_clean_message_is_scanned_by_both_engines_and_delivered(workdir, sink, nodes, engines):
    rspamd, clamd = engines
    node = scanning_node(workdir, [filtered("cus_acme", "acme.example", sink.url("/in"))], rspamd.url, clamd.address)
    nodes.append(node)
    code, text, _ = deliver(node, with_attachment("Quarterly numbers", b"%PDF-1.4 not a virus"))
    assert code == 250, text
    envelope = payload_of(sink)["envelope"]
    assert envelope["spamd"]["result"] == "scanned" and envelope["spamd"]["spam"] is False
    assert isinstance(envelope["spamd"]["score"], (int, float)) and isinstance(envelope["spamd"]["symbols"], dict)
    assert envelope["virus"] == {"result": "clean", "viruses": []}
    assert [a["scan"] for a in payload_of(sink)["attachments"]] == [{"result": "clean"}, {"result": "clean"}]
    (record,) = node.messages("cus_acme")
    assert record["metadata"]["scan"]["spam"]["status"] == "scanned" and record["metadata"]["scan"]["virus"]["status"] == "clean"
    metrics = node.probe("/metrics")[2].decode()
    assert 'scanner="clamd"' in metrics and 'scanner="rspamd"' in metrics


def test_gtube_is_refused_before_the_250_when_the_customer_rejects_spam(workdir, sink, nodes, engines):
    rspamd, clamd = engines
    node = scanning_node(workdir, [filtered("cus_acme", "acme.example", sink.url("/in"), mode="queued", spam_mode="reject")],
                         rspamd.url, clamd.address)
    nodes.append(node)
    code, text, _ = deliver(node, message(subject="Cheap watches", body=GTUBE + "\n"))
    assert code == 550 and text.startswith("5.7.1") and "spam" in text
    time.sleep(0.5)
    assert sink.posts("/in") == [], "a refused message is never posted"
    (record,) = node.messages("cus_acme")
    assert record["status"] == "rejected" and "550 5.7.1" in record["final_reason"]
    assert record["metadata"]["scan"]["spam"]["action"] == "reject"


def test_gtube_is_delivered_and_marked_when_the_customer_marks_spam(workdir, sink, nodes, engines):
    rspamd, _ = engines
    node = scanning_node(workdir, [filtered("cus_acme", "acme.example", sink.url("/in"))], rspamd.url)
    nodes.append(node)
    code, text, _ = deliver(node, message(subject="Cheap watches", body=GTUBE + "\n"))
    assert code == 250, text
    spamd = payload_of(sink)["envelope"]["spamd"]
    assert spamd["spam"] is True and spamd["action"] == "reject" and "GTUBE" in spamd["symbols"]
    assert payload_of(sink)["envelope"]["virus"]["result"] == "not_run", "no --clamd: the step says it was not run"


def test_eicar_is_refused_by_default_and_named_per_attachment_when_marked(workdir, sink, nodes, engines):
    _, clamd = engines
    node = scanning_node(workdir, [filtered("cus_acme", "acme.example", sink.url("/in")),
                                   filtered("cus_lab", "lab.example", sink.url("/lab"), virus_mode="mark")], clamd=clamd.address)
    nodes.append(node)
    code, text, _ = deliver(node, with_attachment("Invoice", EICAR))
    assert code == 550 and "5.7.1" in text and "virus" in text and "Meridian.Test.EICAR" in text
    code, text, _ = deliver(node, with_attachment("Invoice", EICAR), rcpts=("samples@lab.example",))
    assert code == 250, text
    payload = payload_of(sink, "/lab")
    assert payload["envelope"]["virus"]["result"] == "infected"
    assert payload["envelope"]["virus"]["viruses"] == ["Meridian.Test.EICAR.UNOFFICIAL"]
    assert [a["scan"] for a in payload["attachments"]] == [
        {"result": "infected", "virus": "Meridian.Test.EICAR.UNOFFICIAL"}, {"result": "clean"}]
    assert payload["envelope"]["spamd"]["result"] == "not_run"


def test_customers_with_different_policies_are_kept_to_separate_transactions(workdir, sink, nodes, engines):
    rspamd, _ = engines
    node = scanning_node(workdir, [filtered("cus_acme", "acme.example", sink.url("/in"), mode="queued", spam_mode="reject"),
                                   filtered("cus_lab", "lab.example", sink.url("/lab"), mode="queued")], rspamd.url)
    nodes.append(node)
    code, text, refused = deliver(node, message(body=GTUBE + "\n"), rcpts=("inbox@acme.example", "samples@lab.example"))
    assert code == 550, "the transaction holds acme's recipient only, and acme refuses spam"
    assert refused["samples@lab.example"][0] == 452 and "other rules" in refused["samples@lab.example"][1]


@pytest.mark.parametrize("policy,expected", [("pass", 250), ("defer", 451)])
def test_a_scanner_that_is_down_fails_the_scan_and_the_customer_chooses(workdir, sink, nodes, policy, expected):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    node = scanning_node(workdir, [filtered("cus_acme", "acme.example", sink.url("/in"), on_scanner_failure=policy)],
                         clamd=f"127.0.0.1:{port}")
    nodes.append(node)
    code, text, _ = deliver(node, with_attachment("Invoice", b"fine"))
    assert code == expected, text
    if expected == 250:
        virus = payload_of(sink)["envelope"]["virus"]
        assert virus["result"] == "failed" and "unreachable" in virus["reason"]
    else:
        assert text.startswith("4.7.0") and sink.posts("/in") == []
    assert 'result="failed"' in node.probe("/metrics")[2].decode()


def test_a_scanner_that_answers_garbage_or_nothing_fails_the_scan_but_never_the_message(workdir, sink, nodes):
    # rspamd's URL answered by an HTTP server that is not rspamd; clamd's port by one that never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held = []
    threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()
    try:
        node = scanning_node(workdir, [filtered("cus_acme", "acme.example", sink.url("/in"))],
                             rspamd=sink.url("/not-rspamd"), clamd=f"127.0.0.1:{silent.getsockname()[1]}")
        nodes.append(node)
        started = time.monotonic()
        code, text, _ = deliver(node, message())
        assert code == 250, text
        assert time.monotonic() - started < 10, "the scan timeout (3 s) bounds the wait"
        envelope = payload_of(sink)["envelope"]
        assert envelope["spamd"]["result"] == "failed" and "rspamd" in envelope["spamd"]["reason"]
        assert envelope["virus"]["result"] == "failed" and "did not answer" in envelope["virus"]["reason"]
    finally:
        silent.close()


def test_dmarc_failures_are_refused_only_for_customers_who_ask(workdir, sink, nodes):
    zone = DNSZone()
    zone.records.update({"bank.example": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
                         "_dmarc.bank.example": {"TXT": ["v=DMARC1; p=reject"]}})
    try:
        node = Node(workdir, [filtered("cus_acme", "acme.example", sink.url("/in"), reject_dmarc_failures=True),
                              filtered("cus_lab", "lab.example", sink.url("/lab"))], dns=zone)
        nodes.append(node)
        spoof = message(subject="Verify your account", sender="security@bank.example").encode()
        code, text, _ = deliver(node, spoof, sender="security@bank.example")
        assert code == 550 and "DMARC" in text and "bank.example" in text
        code, text, _ = deliver(node, spoof, rcpts=("samples@lab.example",), sender="security@bank.example")
        assert code == 250, text
        assert payload_of(sink, "/lab")["envelope"]["dmarc"]["result"] == "fail"
    finally:
        zone.close()
