"""Sender authentication on a real node: SPF, DKIM and DMARC records published by a real DNS server (dnslib on
loopback), messages signed by dkimpy, sent over SMTP by smtplib, and the verdicts read from the webhook's POST
(verified with standardwebhooks) and the node's metadata."""

import base64
import re
import smtplib
import time

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from standardwebhooks import Webhook

from harness import SECRET, DNSZone, Node, SMTPSink, customer, message, wait_for

SIGNED = ["from", "to", "subject", "date", "message-id"]


@pytest.fixture(scope="module")
def keys():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return {
        "rsa_pem": rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()),
        "rsa_pub": base64.b64encode(rsa_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode(),
        "ed_seed": base64.b64encode(ed_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())),
        "ed_pub": base64.b64encode(ed_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode(),
    }


@pytest.fixture
def zone(keys):
    zone = DNSZone()
    zone.records.update({
        "signed.example": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
        "rsa._domainkey.signed.example": {"TXT": [f"v=DKIM1; k=rsa; p={keys['rsa_pub']}"]},
        "ed._domainkey.signed.example": {"TXT": [f"v=DKIM1; k=ed25519; p={keys['ed_pub']}"]},
        "_dmarc.signed.example": {"TXT": ["v=DMARC1; p=reject"]},
        "bank.example": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
        "_dmarc.bank.example": {"TXT": ["v=DMARC1; p=reject; adkim=s"]},
    })
    yield zone
    zone.close()


def signed_message(keys, subject="Signed", sender="alice@signed.example", extra=""):
    raw = message(subject=subject, sender=sender, extra=extra).encode()
    raw = dkim.sign(raw, b"rsa", b"signed.example", keys["rsa_pem"], include_headers=[h.encode() for h in SIGNED]) + raw
    raw = dkim.sign(raw, b"ed", b"signed.example", keys["ed_seed"], signature_algorithm=b"ed25519-sha256",
                    include_headers=[h.encode() for h in SIGNED]) + raw
    return raw


def deliver(node, data, sender="bounce@signed.example", rcpt="inbox@acme.example"):
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", node.smtp_port, timeout=60) as smtp:
        smtp.ehlo("mail.signed.example")
        smtp.mail(sender)
        smtp.rcpt(rcpt)
        code, text = smtp.data(data)
    return code, text.decode(), time.monotonic() - started


def payload_of(sink, index=-1):
    post = sink.posts("/in")[index]
    return Webhook(SECRET).verify(post["body"], {k.lower(): v for k, v in post["headers"].items()})


def test_a_signed_message_from_an_allowed_host_passes_spf_dkim_and_dmarc(workdir, sink, nodes, zone, keys):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/in"), mode="sync")], dns=zone)
    nodes.append(node)
    code, text, _ = deliver(node, signed_message(keys))
    assert code == 250, text
    envelope = payload_of(sink)["envelope"]
    assert envelope["spf"] == {"result": "pass", "domain": "signed.example"}
    assert envelope["dkim"]["success"] is True
    assert [(r["result"], r["domain"], r["selector"]) for r in envelope["dkim"]["result"]] == [
        ("pass", "signed.example", "ed"), ("pass", "signed.example", "rsa")]
    assert envelope["dmarc"]["success"] is True and envelope["dmarc"]["result"] == "pass"
    assert envelope["dmarc"]["details"]["policy"] == "reject"
    assert envelope["dmarc"]["details"]["spf_aligned"] and envelope["dmarc"]["details"]["dkim_aligned"]
    # What the customer receives carries the node's Authentication-Results field (RFC 8601).
    results = payload_of(sink)["headers"]["authentication_results"]
    assert results.startswith("eu.mx.test;") and "spf=pass smtp.mailfrom=bounce@signed.example" in results
    assert "dkim=pass" in results and "header.s=rsa" in results and "dmarc=pass (p=reject) header.from=signed.example" in results
    # The metadata record keeps the three verdicts.
    (record,) = node.messages("cus_acme")
    assert record["metadata"]["authentication"]["spf"]["result"] == "pass"
    assert [d["result"] for d in record["metadata"]["authentication"]["dkim"]] == ["pass", "pass"]
    assert record["metadata"]["authentication"]["dmarc"]["result"] == "pass"
    metrics = node.probe("/metrics")[2].decode()
    assert re.search(r"meridian_sender_authentication_total\{[^}]*check=\"dmarc\"[^}]*result=\"pass\"[^}]*\} 1", metrics), metrics


def test_a_spoofed_sender_fails_and_forged_results_are_removed(workdir, sink, nodes, zone, keys):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/in"))], dns=zone)
    nodes.append(node)
    # From a bank whose SPF allows only 192.0.2.0/24, with an Authentication-Results field claiming our name.
    forged = "Authentication-Results: eu.mx.test; spf=pass; dkim=pass; dmarc=pass\r\n"
    raw = message(subject="Verify your account", sender="security@bank.example", extra=forged).encode()
    code, text, _ = deliver(node, raw, sender="security@bank.example")
    assert code == 250, text
    wait_for(lambda: sink.posts("/in"), what="the queued delivery")
    payload = payload_of(sink)
    envelope = payload["envelope"]
    assert envelope["spf"]["result"] == "fail"
    assert envelope["dkim"] == {"success": False, "result": []}
    assert envelope["dmarc"]["result"] == "fail" and envelope["dmarc"]["details"]["policy"] == "reject"
    results = payload["headers"]["authentication_results"]
    assert isinstance(results, str), "the forged field claiming eu.mx.test must be gone, leaving only ours"
    assert "spf=fail" in results and "dmarc=fail" in results


def test_a_changed_body_fails_dkim_but_the_message_is_still_delivered(workdir, sink, nodes, zone, keys):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/in"), mode="sync")], dns=zone)
    nodes.append(node)
    raw = signed_message(keys).replace(b"Hi there.", b"Hi there, pay this invoice.")
    code, text, _ = deliver(node, raw)
    assert code == 250, text
    envelope = payload_of(sink)["envelope"]
    assert [r["result"] for r in envelope["dkim"]["result"]] == ["fail", "fail"]
    assert envelope["dmarc"]["result"] == "pass"  # SPF still passes, aligned


def test_a_long_spf_record_is_fetched_over_tcp_after_a_truncated_udp_answer(workdir, sink, nodes, zone, keys):
    # Over 512 bytes: the UDP answer comes truncated and the node must ask again over TCP.
    networks = " ".join(f"ip4:198.51.{i}.0/24" for i in range(40))
    zone.records["signed.example"] = {"TXT": [f"v=spf1 {networks} ip4:127.0.0.1 -all"]}
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/in"), mode="sync")], dns=zone)
    nodes.append(node)
    code, text, _ = deliver(node, signed_message(keys))
    assert code == 250, text
    spf = payload_of(sink)["envelope"]["spf"]
    assert spf["result"] == "pass", spf
    assert ("signed.example", "TXT", "udp") in zone.queries and ("signed.example", "TXT", "tcp") in zone.queries


@pytest.mark.parametrize("mode", ["timeout", "garbage", "servfail"])
def test_a_dns_server_that_fails_gives_temperror_and_the_message_goes_on(workdir, sink, nodes, zone, keys, mode):
    zone.mode = mode
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/in"), mode="sync")], dns=zone)
    nodes.append(node)
    code, text, took = deliver(node, signed_message(keys))
    assert code == 250, text
    assert took < 20, f"the DNS budget bounds the wait ({took:.1f} s)"
    envelope = payload_of(sink)["envelope"]
    assert envelope["spf"]["result"] == "temperror"
    assert {r["result"] for r in envelope["dkim"]["result"]} == {"temperror"}
    assert envelope["dmarc"]["result"] == "temperror"


def test_an_spf_record_with_too_many_lookups_is_permerror_and_asks_no_more(workdir, sink, nodes, zone, keys):
    for level in range(20):
        zone.records[f"l{level}.signed.example"] = {"TXT": [f"v=spf1 include:l{level + 1}.signed.example -all"]}
    zone.records["signed.example"] = {"TXT": ["v=spf1 include:l0.signed.example -all"]}
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/in"), mode="sync")], dns=zone)
    nodes.append(node)
    code, text, _ = deliver(node, signed_message(keys))
    assert code == 250, text
    spf = payload_of(sink)["envelope"]["spf"]
    assert spf["result"] == "permerror" and "more than 10" in spf["reason"]
    assert not any(name.startswith("l11.") for name, _, _ in zone.queries)


def test_a_customer_who_redacts_authentication_keeps_none_in_the_metadata(workdir, sink, nodes, zone, keys):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/in"), mode="sync", redactions=["authentication"])], dns=zone)
    nodes.append(node)
    assert deliver(node, signed_message(keys))[0] == 250
    (record,) = node.messages("cus_acme")
    assert "authentication" not in record["metadata"] and "authentication" in record["metadata"]["redacted"]
    assert payload_of(sink)["envelope"]["spf"]["result"] == "pass", "the POST still carries the verdicts"


def test_sender_authentication_can_be_turned_off(workdir, sink, nodes, zone, keys):
    node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/in"), mode="sync")], dns=zone,
                extra=("--sender-authentication", "off"))
    nodes.append(node)
    assert deliver(node, signed_message(keys))[0] == 250
    payload = payload_of(sink)
    assert "spf" not in payload["envelope"] and "authentication_results" not in payload["headers"]
    assert zone.queries == []


def test_a_failed_message_from_a_sender_whose_spf_did_not_pass_gets_no_dsn(workdir, sink, nodes, zone, keys):
    # MAIL FROM names a bank whose SPF allows only 192.0.2.0/24: the address is forged, so a DSN would be
    # backscatter. The same failure for a sender whose SPF passes gets its DSN.
    smtp_sink = SMTPSink()
    try:
        node = Node(workdir, [customer("cus_acme", "acme.example", sink.url("/refuse"))], dns=zone, smarthost=smtp_sink.port)
        nodes.append(node)
        assert deliver(node, message(sender="security@bank.example").encode(), sender="security@bank.example")[0] == 250
        assert deliver(node, signed_message(keys, subject="Real"), sender="bounce@signed.example")[0] == 250
        wait_for(lambda: len([r for r in node.messages("cus_acme") if r["status"] == "failed"]) == 2, what="both failed")
        wait_for(lambda: smtp_sink.messages, what="the DSN to the verified sender")
        time.sleep(0.5)
        assert [m["to"] for m in smtp_sink.messages] == [["<bounce@signed.example>"]]
        reasons = {r["metadata"]["envelope_from"]: r["final_reason"] for r in node.messages("cus_acme")}
        assert "no DSN (the sender's SPF result is fail" in reasons["security@bank.example"]
        assert "DSN sent to bounce@signed.example" in reasons["bounce@signed.example"]
    finally:
        smtp_sink.close()
