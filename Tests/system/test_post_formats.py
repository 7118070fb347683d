"""The POST formats, verified by the receiver code each ecosystem already uses: a real node built from this tree
POSTs to a real Django server running django-anymail's Mailgun, SendGrid and Postmark inbound views (HTTP Basic
auth from the webhook URL's user info, and Mailgun's HMAC signature), and to plain Django views for CloudMailin's
multipart and raw formats. Every request's Standard Webhooks signature is checked by the `standardwebhooks`
library before Django sees it."""

import base64
import email
import email.policy
import io
import json
import os
import signal
import subprocess
import socketserver
import threading
from email.message import EmailMessage
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
import pytest
from django.conf import settings
from standardwebhooks import Webhook

from harness import (MERIDIAN, SECRET, Node, api, customer, enroll, first_admin, free_port, last_good_parts, node_version, prove_domains, send, start_coordinator,
                     start_node, wait_for)

USER, PASSWORD = "hook-user", "pa$$ w:rd"
RECEIVED = []  # (kind, what the receiver read)
SIGNATURES = []  # (path, whether the Standard Webhooks signature verified)


def _configure_django():
    if settings.configured:
        return
    settings.configure(
        DEBUG=False, SECRET_KEY="test-only", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "anymail"],
        ANYMAIL={"WEBHOOK_SECRET": f"{USER}:{PASSWORD}", "MAILGUN_WEBHOOK_SIGNING_KEY": SECRET},
        DATA_UPLOAD_MAX_MEMORY_SIZE=20 << 20, LOGGING_CONFIG=None,
    )
    django.setup()
    from anymail.signals import inbound

    def collect(sender, event, esp_name, **kwargs):
        RECEIVED.append((esp_name, event.message))

    inbound.connect(collect, weak=False, dispatch_uid="meridian-test")


def _cloudmailin(request, kind):
    """What a CloudMailin receiver reads through Django's own form parsing."""
    from django.http import HttpResponse
    files = {name: (f.name, f.content_type, f.read()) for name, f in request.FILES.items()}
    RECEIVED.append((kind, {"post": {k: request.POST.getlist(k) for k in request.POST}, "files": files,
                            "authorization": request.META.get("HTTP_AUTHORIZATION")}))
    return HttpResponse("ok")


def _urlpatterns():
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt
    return [
        path("anymail/", include("anymail.urls")),
        path("cloudmailin/multipart/", csrf_exempt(lambda r: _cloudmailin(r, "multipart"))),
        path("cloudmailin/raw/", csrf_exempt(lambda r: _cloudmailin(r, "raw"))),
    ]


def __getattr__(name):
    # Django reads `urlpatterns` from ROOT_URLCONF (this module) once it is configured.
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def receiver():
    _configure_django()
    from django.core.handlers.wsgi import WSGIHandler
    django_app = WSGIHandler()

    def app(environ, start_response):
        # Standard Webhooks first, on the bytes as sent; then Django reads the same bytes.
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        try:
            Webhook(SECRET).verify(body, headers, json_parse=False)
            SIGNATURES.append((environ["PATH_INFO"], True))
        except Exception:
            SIGNATURES.append((environ["PATH_INFO"], False))
        environ["wsgi.input"] = io.BytesIO(body)
        return django_app(environ, start_response)

    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _message():
    """A message with everything a receiver should get back: names, several recipients, a non-ASCII subject,
    text and HTML, an attachment with a non-ASCII name and an inline image."""
    msg = EmailMessage()
    msg["From"] = '"Doe, Jane" <jane@sender.example>'
    msg["To"] = "Zoë <inbox+ticket-42@acme.example>, bob@acme.example"
    msg["Cc"] = "carol@acme.example"
    msg["Subject"] = "Quarterly résumé ✓"
    msg["Message-ID"] = "<formats-1@sender.example>"
    msg.set_content("Hello there,\nthe report is attached.\n")
    msg.add_alternative('<p>Hello <b>there</b> <img src="cid:logo@sender.example"></p>', subtype="html")
    msg.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\nfake-image", maintype="image", subtype="png", cid="<logo@sender.example>")
    msg.add_attachment(bytes(range(256)) * 4, maintype="application", subtype="pdf", filename="Bericht März.pdf")
    return msg


def _expected_attachments():
    return [("Bericht März.pdf", "application/pdf", bytes(range(256)) * 4)]


def _node(workdir, receiver, entries, nodes):
    customers = []
    for index, (path, fmt, credentials) in enumerate(entries):
        entry = customer(f"cus_{index}", f"d{index}.example", receiver + path, mode="sync")
        entry["webhook"]["format"] = fmt
        if credentials:
            entry["webhook"]["credentials"] = credentials
        customers.append(entry)
    node = Node(workdir, customers)
    nodes.append(node)
    return node


def _take(kind):
    wait_for(lambda: any(k == kind for k, _ in RECEIVED), timeout=10, what=f"the {kind} receiver to read a message")
    index = next(i for i, (k, _) in enumerate(RECEIVED) if k == kind)
    return RECEIVED.pop(index)[1]


@pytest.mark.parametrize("fmt,path,esp", [
    ("mailgun", "/anymail/mailgun/inbound/", "Mailgun"),
    ("sendgrid", "/anymail/sendgrid/inbound/", "SendGrid"),
    ("postmark", "/anymail/postmark/inbound/", "Postmark"),
])
def test_anymail_reads_what_it_reads_from_the_service(workdir, receiver, nodes, fmt, path, esp):
    node = _node(workdir, receiver, [(path, fmt, f"{USER}:{PASSWORD}")], nodes)
    code, text = send(node.smtp_port, rcpt="inbox+ticket-42@d0.example", sender="bounce@sender.example", data=_message().as_bytes(policy=email.policy.SMTP))
    assert code == 250, text
    message = _take(esp)

    assert message.envelope_sender == "bounce@sender.example"
    assert message.envelope_recipient == "inbox+ticket-42@d0.example"
    assert message.from_email.addr_spec == "jane@sender.example" and message.from_email.display_name == "Doe, Jane"
    assert [a.addr_spec for a in message.to] == ["inbox+ticket-42@acme.example", "bob@acme.example"]
    assert [a.addr_spec for a in message.cc] == ["carol@acme.example"]
    assert message.subject == "Quarterly résumé ✓"
    assert message.text.replace("\r\n", "\n") == "Hello there,\nthe report is attached.\n"
    assert 'Hello <b>there</b>' in message.html
    attachments = [(a.get_filename(), a.get_content_type(), a.get_content_bytes()) for a in message.attachments]
    assert attachments == _expected_attachments()
    inline = message.content_id_map
    assert set(inline) == {"logo@sender.example"}, inline
    assert inline["logo@sender.example"].get_content_bytes() == b"\x89PNG\r\n\x1a\nfake-image"
    assert SIGNATURES[-1] == (path, True)


def test_anymail_refuses_wrong_credentials_and_a_wrong_mailgun_key(workdir, receiver, nodes):
    """The receiver's checks are real: without the right Basic credentials, or with a Mailgun signature keyed with
    another secret, django-anymail refuses, and the node says so to the sender in sync mode."""
    node = _node(workdir, receiver, [
        ("/anymail/postmark/inbound/", "postmark", f"{USER}:wrong"),
        ("/anymail/sendgrid/inbound/", "sendgrid", None),
    ], nodes)
    for domain in ("d0.example", "d1.example"):
        code, text = send(node.smtp_port, rcpt=f"x@{domain}", data=_message().as_bytes(policy=email.policy.SMTP))
        assert code == 550 and "400" in text, text

    other = customer("cus_key", "key.example", receiver + "/anymail/mailgun/inbound/", mode="sync")
    other["webhook"].update(format="mailgun", credentials=f"{USER}:{PASSWORD}",
                            secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=")
    node.write_bundle(2, [other])
    wait_for(lambda: json.loads(node.get("/v1/status")[2])["config_version"] == 2, what="the node to load version 2")
    code, text = send(node.smtp_port, rcpt="x@key.example", data=_message().as_bytes(policy=email.policy.SMTP))
    assert code == 550 and "400" in text, text
    assert not RECEIVED


def test_cloudmailin_multipart_and_raw(workdir, receiver, nodes):
    node = _node(workdir, receiver, [
        ("/cloudmailin/multipart/", "multipart", f"{USER}:{PASSWORD}"),
        ("/cloudmailin/raw/", "raw", None),
    ], nodes)
    raw = _message().as_bytes(policy=email.policy.SMTP)
    assert send(node.smtp_port, rcpt="inbox@d0.example", sender="bounce@sender.example", data=raw)[0] == 250
    form = _take("multipart")
    post = form["post"]
    assert post["envelope[to]"] == ["inbox@d0.example"] and post["envelope[from]"] == ["bounce@sender.example"]
    assert post["envelope[recipients][0]"] == ["inbox@d0.example"]
    assert post["headers[subject]"] == ["Quarterly résumé ✓"]
    assert post["plain"][0].replace("\r\n", "\n") == "Hello there,\nthe report is attached.\n"
    assert "Hello <b>there</b>" in post["html"][0]
    files = sorted(form["files"].values())
    assert ("Bericht März.pdf", "application/pdf", bytes(range(256)) * 4) in files
    assert any(f[1] == "image/png" and f[2] == b"\x89PNG\r\n\x1a\nfake-image" for f in files)
    assert form["authorization"] == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    assert send(node.smtp_port, rcpt="inbox@d1.example", sender="bounce@sender.example", data=raw)[0] == 250
    form = _take("raw")
    received = form["post"]["message"][0].encode()
    # The message as received, with the node's Authentication-Results field on top.
    parsed = email.message_from_bytes(received, policy=email.policy.default)
    assert parsed["Authentication-Results"] and parsed["Subject"] == "Quarterly résumé ✓"
    assert received.replace(b"\r\n", b"\n").endswith(raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1])
    assert form["post"]["envelope[from]"] == ["bounce@sender.example"]
    assert form["authorization"] is None, "no credentials in the URL, no Authorization header"
    assert all(ok for path, ok in SIGNATURES if path.startswith("/cloudmailin/"))


def test_format_and_credentials_set_with_the_cli_reach_the_node_sealed(tmp_path, receiver):
    """The whole path: `meridian customers create --format postmark` with credentials in the URL; the coordinator
    keeps them sealed, shows the URL without them, seals them to the region in the bundle; the joined node opens
    them and django-anymail's Postmark view accepts the delivery. `customers update --format` keeps them."""
    work = str(tmp_path)
    port, smtp, control, probe = free_port(), free_port(), free_port(), free_port()
    coordinator, data = start_coordinator(work, port)
    node = None
    try:
        admin = first_admin(data, port)
        env = dict(os.environ, MERIDIAN_URL=f"http://127.0.0.1:{port}", MERIDIAN_TOKEN=admin)

        def cli(*args):
            return subprocess.run([MERIDIAN, *args], capture_output=True, text=True, env=env, timeout=60)

        url = receiver.replace("http://", f"http://{USER}:{PASSWORD.replace('$', '%24').replace(' ', '%20').replace(':', '%3A')}@")
        made = cli("customers", "create", "--name", "Formats", "--email", "ops@formats.example", "--domain", "formats.example", "--region", "eu",
                   "--webhook", url + "/anymail/postmark/inbound/", "--mode", "sync", "--format", "postmark", "--json")
        assert made.returncode == 0, made.stderr
        created = json.loads(made.stdout)["customer"]
        secret = json.loads(made.stdout)["webhook_secret"]
        assert created["webhook"] == {"url": receiver + "/anymail/postmark/inbound/", "mode": "sync", "format": "postmark", "basic_auth": True}
        cid = prove_domains(port, admin, created)
        shown = cli("customers", "show", cid)
        assert "postmark, HTTP Basic auth" in shown.stdout and PASSWORD not in shown.stdout and "pa%24" not in shown.stdout

        bad = cli("customers", "update", cid, "--format", "xml")
        assert bad.returncode != 0 and "xml" in bad.stderr

        node = start_node(work, coordinator.node_port, enroll(port, admin, "eu", "eu-1", control), smtp, control, probe)
        wait_for(lambda: node_version(probe) == api(port, "GET", "/v1/nodes", admin)[1]["config_version"], what="the node's first pull")
        kept = json.dumps(last_good_parts(os.path.join(work, "node")))
        assert "credentials_sealed" in kept and PASSWORD not in kept and USER not in kept

        assert send(smtp, rcpt="inbox@formats.example", sender="bounce@sender.example", data=_message().as_bytes(policy=email.policy.SMTP))[0] == 250
        message = _take("Postmark")
        assert message.subject == "Quarterly résumé ✓" and message.envelope_recipient == "inbox@formats.example"

        # A test delivery goes the same way: format, secret and credentials; the receiver reads the sample.
        tested = cli("customers", "test-webhook", cid)
        assert tested.returncode == 0 and tested.stdout.startswith("delivered: the endpoint answered 200"), tested.stdout + tested.stderr
        sample = _take("Postmark")
        assert sample.subject == "Meridian test delivery" and [a.get_filename() for a in sample.attachments] == ["test.txt"]

        # Another format, the same URL: the credentials stay, and the next message comes as Mailgun's, signed with the
        # account's own secret, which the receiver now holds as its Mailgun signing key.
        settings.ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = secret
        version = node_version(probe)
        changed = cli("customers", "update", cid, "--format", "mailgun", "--json")
        assert changed.returncode == 0, changed.stderr
        assert json.loads(changed.stdout)["webhook"]["basic_auth"] is True
        assert cli("customers", "update", cid, "--webhook", receiver + "/anymail/mailgun/inbound/").returncode == 0
        assert json.loads(cli("customers", "show", cid, "--json").stdout)["webhook"]["basic_auth"] is False, "another URL drops them"
        assert cli("customers", "update", cid, "--webhook", url + "/anymail/mailgun/inbound/").returncode == 0
        wait_for(lambda: node_version(probe) >= version + 3, what="the node on the new versions")
        assert send(smtp, rcpt="inbox@formats.example", sender="bounce@sender.example", data=_message().as_bytes(policy=email.policy.SMTP))[0] == 250
        assert _take("Mailgun").envelope_recipient == "inbox@formats.example"
        log = open(os.path.join(work, "coordinator.log")).read() + open(os.path.join(work, "node.log")).read()
        assert PASSWORD not in log and "pa%24" not in log
    finally:
        settings.ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = SECRET
        if node:
            node.send_signal(signal.SIGTERM)
            node.wait(timeout=40)
        coordinator.send_signal(signal.SIGTERM)
        coordinator.wait(timeout=40)
