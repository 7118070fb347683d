"""Real processes for the system tests (Tests/system) and the fault suite (Tests/e2e), built from this tree and
nothing mocked: `meridian node`, `meridian coordinator` and `meridian up`, an HTTP webhook sink (Python's
http.server), an SMTP sink for delivery status notifications, a DNS server (dnslib), and the clients that talk
to them (SMTP, the admin API, the node protocol over mutual TLS). Tests/system/conftest.py makes fixtures of
them; Tests/pki.py makes the certificates and bundle signatures of nodes run without a coordinator."""

import base64
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from pki import PKI_SHARED
from ports import free_port  # noqa: F401 (the tests import it from here)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MERIDIAN = os.environ.get("MERIDIAN_BIN", os.path.join(ROOT, ".build", "debug", "meridian"))
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
# The files a coordinator's first start makes that every other replica must share (docs/operations.md, "Several
# coordinator replicas").
REPLICA_KEY_FILES = ("master.key", "bundle-signing.key", "bundle-signing.pub", "publication-signing.key", "publication-signing.pub",
                     "coordinator-ca.key", "coordinator-ca.pem", "node-ca.key", "node-ca.pem", "metrics-token")


def exit_report(log):
    """What a process that exited printed last; for a Swift crash, the crash itself (its reason and the crashed
    thread come first in the report, which the last lines would cut off)."""
    for marker in ("Fatal error", "💣 Program crashed"):
        at = log.find(marker)
        if at >= 0:
            return log[max(0, at - 600):at + 5000]
    return log[-3000:]


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class WebhookSink:
    """An HTTP server that answers per path: /ok 200, /refuse 422, /fail 503, /hang (never answers in time),
    /slow (200 after 20 s), /redirect (302 to itself), /huge (200 with a 50 MB body), /outage and /outage/... (503
    while `outage` is set), /analyse (200 with a JSON verdict, as a content-analysis sub-processor answers)."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.outage = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request (a kill -9): no complete request, so nothing was received
                path = self.path
                self.record = {"path": path, "headers": dict(self.headers), "body": body, "at": time.monotonic()}
                with sink.lock:
                    sink.requests.append(self.record)
                if path == "/hang":
                    time.sleep(30)
                    return
                if path == "/slow":
                    time.sleep(20)
                    return self.reply(200, b"took my time")
                if path == "/redirect":
                    return self.reply(302, b"", [("Location", path)])
                if path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Length", str(50 << 20))
                    self.end_headers()
                    chunk = b"x" * (1 << 20)
                    try:
                        for _ in range(50):
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                    return
                if path == "/refuse":
                    return self.reply(422, b"unknown mailbox, go away")
                if path == "/analyse":
                    return self.reply(200, b'{"verdict": "clean", "score": 0.02}', [("Content-Type", "application/json")])
                if path == "/fail" or (path.startswith("/outage") and sink.outage.is_set()):
                    return self.reply(503, b"down for maintenance")
                self.reply(200, b"thanks")

            def reply(self, code, body, headers=()):
                self.record["status"] = code
                self.send_response(code)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, HTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request, client_address):
                pass  # a node killed mid-request resets its connections; that is the test, not an error

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def posts(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def close(self):
        self.server.shutdown()


class SMTPSink:
    """Takes any message and keeps it: the smarthost that DSNs go through."""

    def __init__(self, port=0):
        self.messages = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink ESMTP\r\n")
                envelope = {"from": None, "to": []}
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    command = line.decode("latin-1").strip()
                    upper = command.upper()
                    if upper.startswith("EHLO") or upper.startswith("HELO"):
                        self.wfile.write(b"250 sink\r\n")
                    elif upper.startswith("MAIL FROM:"):
                        envelope = {"from": command[10:].strip(), "to": []}
                        self.wfile.write(b"250 2.1.0 ok\r\n")
                    elif upper.startswith("RCPT TO:"):
                        envelope["to"].append(command[8:].strip())
                        self.wfile.write(b"250 2.1.5 ok\r\n")
                    elif upper == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = b""
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in (b".\r\n", b""):
                                break
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        sink.messages.append(dict(envelope, data=data))
                        self.wfile.write(b"250 2.0.0 kept\r\n")
                    elif upper == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# The test deployments let webhooks be http on loopback, where the sinks listen; nothing else private. A bundle
# carries it as "egress"; `meridian coordinator` is told with the flags an operator would use.
TEST_EGRESS = {"allow_http": True, "allow_networks": ["127.0.0.0/8"]}

_QUIET_DNS = []


def quiet_dns():
    """One DNS server (dnslib on loopback) for every node a test process starts without a zone of its own, so
    that sender authentication asks a server that answers at once (NXDOMAIN for every other name) instead of
    the machine's resolver. Tests that publish SPF, DKIM or DMARC records give a node their own DNSZone."""
    if not _QUIET_DNS:
        zone = DNSZone()
        # The senders the tests use by default pass SPF from loopback, so that failed messages get their DSN
        # (a node sends one only to a sender whose SPF passed).
        for domain in ("sender.example", "elsewhere.example"):
            zone.records[domain] = {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]}
        _QUIET_DNS.append(zone)
    return _QUIET_DNS[0]
TEST_EGRESS_FLAGS = ("--webhook-allow-http", "--webhook-allow-network", "127.0.0.0/8")


def customer(cid, domain, url, mode="queued", redactions=(), region="eu"):
    return {
        "id": cid, "region": region, "domains": [domain],
        "webhook": {"url": url, "mode": mode, "secret": SECRET},
        "metadata_redactions": list(redactions),
    }


class Node:
    """`meridian node --region eu` in a temporary directory, with its own Regions copy whose queue times
    are shortened so that retries and the lifetime fit in a test. It runs without a coordinator: its enrollment
    (identity/) and its signed bundle files come from Tests/pki.py, and the harness calls its control API with a
    certificate of that PKI's coordinator CA."""

    def __init__(self, workdir, customers, elsewhere=(), lifetime="1h", smarthost=None, tls=False,
                 webhook_timeout=2, idle_timeout=30, spool=None, extra=(), region="eu", write_bundle=True, egress=None, dns=None):
        self.workdir = workdir
        self.egress = TEST_EGRESS if egress is None else egress
        self.region = region
        self.data = os.path.join(workdir, "node")
        self.regions = os.path.join(workdir, "Regions")
        if not os.path.exists(self.regions):
            shutil.copytree(os.path.join(ROOT, "Regions"), self.regions)
            path = os.path.join(self.regions, f"{region}.yaml")
            text = open(path).read()
            text = re.sub(r"message_lifetime: .*", f"message_lifetime: {lifetime}", text)
            text = re.sub(r"retry_initial: .*", "retry_initial: 1s", text)
            text = re.sub(r"retry_maximum: .*", "retry_maximum: 2s", text)
            open(path, "w").write(text)
        os.makedirs(self.data, exist_ok=True)
        self.smtp_port = free_port()
        self.control_port = free_port()
        self.probe_port = free_port()
        if not os.path.exists(os.path.join(self.data, "identity")):
            PKI_SHARED.write_identity(self.data, region, f"{region}-1", self.control_port)
        self.bundle_path = os.path.join(self.data, "bundle.json")
        if write_bundle:
            self.write_bundle(1, customers, elsewhere)
        self.args = [
            MERIDIAN, "node", "--region", region, "--regions", self.regions, "--data-dir", self.data,
            "--smtp-host", "127.0.0.1", "--smtp-port", str(self.smtp_port), "--control-port", str(self.control_port),
            "--probe-port", str(self.probe_port),
            "--webhook-timeout", str(webhook_timeout), "--idle-timeout", str(idle_timeout), "--hostname", "eu.mx.test",
            "--dns-resolver", (dns or quiet_dns()).address,
        ]
        if smarthost:
            self.args += ["--smarthost", f"127.0.0.1:{smarthost}"]
        if spool:
            self.args += ["--spool", spool]
        if tls:
            cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=eu.mx.test"],
                           check=True, capture_output=True)
            self.args += ["--tls-cert", cert, "--tls-key", key]
        self.args += list(extra)
        self.log_path = os.path.join(workdir, "node.log")
        self.coordinator = PKI_SHARED.client_context(workdir)
        self.process = None
        self.start()

    def write_bundle(self, version, customers, elsewhere=()):
        """Writes a bundle signed as the coordinator signs it."""
        bundle = {"version": version, "region": self.region, "customers": list(customers), "elsewhere": list(elsewhere),
                  "egress": self.egress}
        self.write_raw(json.dumps(PKI_SHARED.sign(bundle)))

    def write_raw(self, text):
        tmp = self.bundle_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.bundle_path)

    def start(self):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, LOG_LEVEL="info")
        self.process = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_for(self.ready, timeout=30, what=f"the node to listen (log: {self.log_path})")

    def ready(self):
        if self.process.poll() is not None:
            raise AssertionError(f"the node exited with {self.process.returncode}:\n{exit_report(open(self.log_path).read())}")
        try:
            with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=0.5) as s:
                s.recv(100)
            return self.probe("/healthz")[0] == 200 and self.get("/v1/status")[0] == 200
        except OSError:
            return False

    def kill(self, sig=signal.SIGKILL):
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def probe(self, path):
        """A GET on the plain probe port (/healthz, /metrics, /v1/status)."""
        return fetch(f"http://127.0.0.1:{self.probe_port}{path}")

    def get(self, path, method="GET", body=None, context=None):
        """A call to the control API as the coordinator makes it (mutual TLS), or with `context`."""
        return fetch(f"https://127.0.0.1:{self.control_port}{path}", method=method, body=body, context=context or self.coordinator)

    def messages(self, customer_id, **query):
        query = "&".join([f"customer_id={customer_id}"] + [f"{k}={urllib.parse.quote(str(v))}" for k, v in query.items()])
        status, _, body = self.get(f"/v1/messages?{query}")
        assert status == 200, body
        return json.loads(body)["messages"]


def fetch(url, method="GET", body=None, context=None, headers=()):
    """(status, content type, body) of one HTTP request; an HTTP error is an answer too."""
    request = urllib.request.Request(url, method=method, data=body)
    for name, value in headers:
        request.add_header(name, value)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read()


class DNSZone:
    """A real DNS server on loopback (dnslib, UDP and TCP on one port), answering MX, TXT, A and AAAA from a dict
    the test changes as it goes: {"name": {"MX": ["host", ...], "TXT": ["text", ...], "A": ["127.1.0.1", ...]}}.
    Unknown names get NXDOMAIN. MX records get preferences 10, 20, ... in list order unless given as
    (preference, host). TXT values longer than 255 characters are split into strings as DNS requires.

    Like a real server, UDP answers over 512 bytes come truncated (TC set, no records), so a client must ask
    again over TCP. `mode` makes the server misbehave: "timeout" (never answers), "garbage" (answers bytes
    that are not DNS), "servfail"; `queries` counts what it was asked, as (name, type, protocol)."""

    def __init__(self):
        from dnslib import AAAA, A, MX, QTYPE, RCODE, RR, TXT
        from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

        self.records = {}
        self.mode = None
        self.queries = []
        zone = self

        def txt(value):
            return TXT([value[i:i + 255] for i in range(0, len(value), 255)] or [""])

        class Resolver(BaseResolver):
            def resolve(self, request, handler):
                reply = request.reply()
                name = str(request.q.qname).rstrip(".").lower()
                kind = QTYPE[request.q.qtype]
                zone.queries.append((name, kind, handler.protocol))
                if zone.mode == "servfail":
                    reply.header.rcode = RCODE.SERVFAIL
                    return reply
                entry = zone.records.get(name)
                if entry is None:
                    reply.header.rcode = RCODE.NXDOMAIN
                    return reply
                for index, value in enumerate(entry.get(kind, [])):
                    if kind == "MX":
                        preference, host = value if isinstance(value, tuple) else (10 * (index + 1), value)
                        rdata = MX(host, preference=preference)
                    else:
                        rdata = {"A": A, "AAAA": AAAA}.get(kind, txt)(value)
                    reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rdata, ttl=60))
                return reply

        class Handler(DNSHandler):
            udplen = 512

            def get_reply(self, data):
                if zone.mode == "timeout":
                    time.sleep(30)
                if zone.mode == "garbage":
                    return bytes(data[:2]) + b"\x81\x80 not a DNS message at all"
                return super().get_reply(data)

        self.port = free_port()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data")
        self.servers = [DNSServer(Resolver(), port=self.port, address="127.0.0.1", logger=quiet, handler=Handler, tcp=tcp)
                        for tcp in (False, True)]
        for server in self.servers:
            server.start_thread()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def close(self):
        for server in self.servers:
            server.stop()


class Engine:
    """A scanner daemon the harness starts in the foreground in a directory of its own, and stops."""

    name = "engine"

    def start(self, args):
        self.process = subprocess.Popen(args, stdout=open(os.path.join(self.dir, "out.log"), "wb"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        wait_for(self.answers, timeout=60, what=self.name)

    def running(self):
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited: {open(os.path.join(self.dir, 'out.log')).read()[-2000:]}")
        return True

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


class Rspamd(Engine):
    """A real rspamd (Debian's package) on loopback with a configuration of its own: the stock rules, one normal
    worker, its DNS asked of `dns` (a DNSZone), and the modules that would reach the internet (RBLs, fuzzy
    hashes, URL and e-mail blocklists) or repeat what the node does itself (SPF, DKIM, DMARC, ARC) turned off.
    Its scanner is `url`; starting it takes about ten seconds.

    For the Postfix stack of the node benchmark: `enable` keeps modules of DISABLED on, `workers` sets the
    worker count, `milter=True` adds a proxy worker in milter mode that scans itself (at `milter_address`), and
    `local` adds files to local.d ({"antivirus.conf": "..."})."""

    name = "rspamd"

    DISABLED = ("rbl", "fuzzy_check", "asn", "surbl", "phishing", "url_redirector", "emails", "spf", "dkim", "dmarc", "arc",
                "dkim_signing", "arc_signing", "neural", "ratelimit", "greylist", "replies", "history_redis", "mx_check",
                "rspamd_update", "url_reputation", "reputation", "clickhouse", "elastic", "metadata_exporter", "bayes_expiry")

    def __init__(self, workdir, dns, enable=(), workers=1, milter=False, local=None, name="rspamd"):
        self.dir = os.path.join(workdir, name)
        os.makedirs(os.path.join(self.dir, "local.d"), exist_ok=True)
        self.port, self.milter_port = free_port(), free_port()
        proxy = f"""worker "rspamd_proxy" {{
    bind_socket = "127.0.0.1:{self.milter_port}";
    milter = yes;
    timeout = 120s;
    upstream "local" {{ default = yes; self_scan = yes; }}
    count = {workers};
}}
""" if milter else ""
        with open(os.path.join(self.dir, "rspamd.conf"), "w") as f:
            f.write(f""".include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}}
logging {{ type = "file"; filename = "$LOGDIR/rspamd.log"; level = "error"; }}
worker "normal" {{
    bind_socket = "127.0.0.1:{self.port}";
    .include "$CONFDIR/worker-normal.inc"
    count = {workers};
}}
{proxy}""")
        with open(os.path.join(self.dir, "local.d", "options.inc"), "w") as f:
            f.write(f'dns {{ nameserver = ["{dns.address}"]; timeout = 1s; retransmits = 1; }}\n')
        for module in self.DISABLED:
            if module not in enable:
                with open(os.path.join(self.dir, "local.d", f"{module}.conf"), "w") as f:
                    f.write("enabled = false;\n")
        for file, text in (local or {}).items():
            with open(os.path.join(self.dir, "local.d", file), "w") as f:
                f.write(text)
        args = ["rspamd", "-f", "-i", "-u", "root", "-g", "root", "-c", os.path.join(self.dir, "rspamd.conf")]
        for var in ("LOCAL_CONFDIR", "RUNDIR", "DBDIR", "LOGDIR"):
            args += ["--var", f"{var}={self.dir}"]
        args += ["--var", "CONFDIR=/etc/rspamd"]
        self.start(args)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def milter_address(self):
        return f"127.0.0.1:{self.milter_port}"

    def answers(self):
        try:
            return self.running() and fetch(self.url + "/ping")[0] == 200
        except OSError:
            return False


EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class Clamd(Engine):
    """A real clamd (Debian's clamav-daemon) on loopback. ClamAV's signatures cannot be downloaded here, so its
    database is one signature file the harness writes: the MD5 of the EICAR test file, named
    Meridian.Test.EICAR (clamd reports it as Meridian.Test.EICAR.UNOFFICIAL). Production runs freshclam."""

    name = "clamd"

    def __init__(self, workdir):
        import hashlib
        self.dir = os.path.join(workdir, "clamd")
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        with open(os.path.join(self.dir, "db", "meridian-test.hdb"), "w") as f:
            f.write(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Meridian.Test.EICAR\n")
        self.port = free_port()
        conf = os.path.join(self.dir, "clamd.conf")
        with open(conf, "w") as f:
            f.write(f"Foreground yes\nTCPSocket {self.port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {self.dir}/db\n"
                    f"LogFile {self.dir}/clamd.log\nPidFile {self.dir}/clamd.pid\nStreamMaxLength 50M\n")
        self.start(["clamd", "-c", conf])

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def answers(self):
        try:
            self.running()
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b"zPING\0")
                return s.recv(16).startswith(b"PONG")
        except OSError:
            return False


# Clients: SMTP, the admin API and plain HTTP.

def message(subject="Hello", sender="alice@sender.example", to="inbox@acme.example", body="Hi there.\n", extra=""):
    return (f"From: Alice <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '-')}@sender.example>\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n{extra}\r\n{body}").replace("\r\n", "\n").replace("\n", "\r\n")


def send(port, rcpt="inbox@acme.example", sender="alice@sender.example", data=None, **kwargs):
    """Sends one message; returns (code, text) of the reply to DATA, or of the first refused recipient."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo("client.test")
        code, text = smtp.mail(sender)
        assert code == 250, text
        code, text = smtp.rcpt(rcpt)
        if code != 250:
            return code, text.decode()
        code, text = smtp.data(data or message(**kwargs))
        return code, text.decode()


def api(port, method, path, token, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def prove_domains(port, admin, customer):
    """Takes a new account's domains as proved, as an operator does by hand (`meridian customers verify-domain`),
    for tests whose coordinator has no DNS to find the ownership records in; returns the customer's id."""
    cid = customer["id"]
    for domain in customer["domains"]:
        status, body = api(port, "POST", f"/v1/customers/{cid}/domains/{domain}/verify", admin, {"reason": "a test deployment without DNS"})
        assert status == 200, body
    return cid


def http(method, url, token, body=None, content_type="application/json"):
    request = urllib.request.Request(url, method=method, data=body)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# Processes: the coordinator, nodes that join it and pull from it, and `meridian up`.

def start_coordinator(work, port, regions="Regions", extra=(), node_port=None, egress_flags=TEST_EGRESS_FLAGS):
    """`meridian coordinator` on `port`, its node port on `node_port` or a free one (`process.node_port`)."""
    data = os.path.join(work, "coordinator")
    node_port = node_port or free_port()
    process = subprocess.Popen(
        [MERIDIAN, "coordinator", "--database", f"sqlite:{data}/coordinator.sqlite", "--data-dir", data, "--port", str(port),
         "--node-port", str(node_port), "--regions", os.path.join(ROOT, regions), *egress_flags, *extra],
        cwd=ROOT, stdout=open(os.path.join(work, "coordinator.log"), "ab"), stderr=subprocess.STDOUT)
    process.node_port = node_port
    return process, data


def enroll(port, admin, region, node_id, control_port):
    """Enrolls a node through the admin API, as `meridian nodes enroll` does; its join token."""
    status, body = api(port, "POST", "/v1/nodes", admin,
                       {"region": region, "node_id": node_id, "control_url": f"https://127.0.0.1:{control_port}"})
    assert status == 201, body
    return body["join_token"]


def start_node(work, node_port, join, smtp_port, control_port, probe_port, pull_interval=1, wrapper=(), env=None, region="eu"):
    """`meridian node` joining (or joined to) the coordinator whose node port is `node_port`."""
    return subprocess.Popen(
        [*wrapper, MERIDIAN, "node", "--region", region, "--regions", os.path.join(ROOT, "Regions"), "--data-dir", os.path.join(work, "node"),
         "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port), "--control-port", str(control_port), "--probe-port", str(probe_port),
         "--coordinator", f"https://127.0.0.1:{node_port}", *(["--join", join] if join else []), "--pull-interval", str(pull_interval),
         "--dns-resolver", quiet_dns().address],
        cwd=ROOT, stdout=open(os.path.join(work, "node.log"), "ab"), stderr=subprocess.STDOUT, start_new_session=True,
        env=dict(os.environ, **(env or {})))


def answers(port, token):
    try:
        return api(port, "GET", "/v1/whoami", token)[0] == 200
    except OSError:
        return False


def first_admin(data, port):
    """Waits for a new coordinator's first admin token and for its API; returns the token."""
    wait_for(lambda: os.path.exists(os.path.join(data, "admin-token")), what="the coordinator's first start")
    admin = open(os.path.join(data, "admin-token")).read().strip()
    wait_for(lambda: answers(port, admin), what="the coordinator")
    return admin


def last_good_parts(node_dir):
    """The payloads of a node's last-known-good config, in the order the node applies them: its snapshot (kept as a
    signed bundle, or as an update holding one and the deltas after it), then each delta applied since
    (`bundle.last-good.json.deltas`, one signed delta a line). Deltas come unwrapped from their `{"delta": …}`."""
    kept = json.load(open(os.path.join(node_dir, "bundle.last-good.json")))
    envelopes = ([kept["snapshot"]] + kept["deltas"]) if "deltas" in kept else [kept]
    log = os.path.join(node_dir, "bundle.last-good.json.deltas")
    if os.path.exists(log):
        envelopes += [json.loads(line) for line in open(log) if line.strip()]
    parts = []
    for envelope in envelopes:
        payload = json.loads(base64.b64decode(envelope["payload"]))
        parts.append(payload.get("delta", payload))
    return parts


def node_status(probe_port):
    """A node's /v1/status from its probe port, or None while it does not answer."""
    try:
        status, _, body = fetch(f"http://127.0.0.1:{probe_port}/v1/status")
    except OSError:
        return None
    return json.loads(body) if status == 200 else None


def node_version(probe_port):
    status = node_status(probe_port)
    return status["config_version"] if status else None


class Up:
    """`meridian up` in a temporary directory on its own ports."""

    def __init__(self, tmp_path):
        self.data = str(tmp_path / "data")
        # Below the kernel's ephemeral range (32768 and up), where outgoing connections could hold a port.
        self.offset = free_port() % 20000 + 2000
        self.port = 8080 + self.offset
        self.log_path = tmp_path / "up.log"
        self.process = subprocess.Popen([MERIDIAN, "up", "--data-dir", self.data, "--port-offset", str(self.offset),
                                         "--dns-resolver", quiet_dns().address], cwd=ROOT,
                                        stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        wait_for(self.started, timeout=30, what="the up banner")
        self.admin = open(f"{self.data}/admin-token").read().strip()

    def log(self):
        return open(self.log_path).read()

    def started(self):
        if self.process.poll() is not None:
            raise AssertionError(f"meridian up exited with {self.process.returncode}:\n{exit_report(self.log())}")
        return "stop         Ctrl-C" in self.log()

    def smtp(self, region):
        return {"eu": 2525, "us": 2526, "ap": 2527}[region] + self.offset

    def control(self, region):
        return {"eu": 9101, "us": 9102, "ap": 9103}[region] + self.offset

    def probe(self, region):
        return {"eu": 9111, "us": 9112, "ap": 9113}[region] + self.offset

    @property
    def node_port(self):
        return 8443 + self.offset

    def api(self, method, path, body=None):
        return api(self.port, method, path, self.admin, body)

    def in_sync(self, after=0, count=3):
        """Waits until a version newer than `after` is published and `count` nodes acknowledged it; returns it."""
        def check():
            status, nodes = self.api("GET", "/v1/nodes")
            assert status == 200, nodes
            states = [node["state"] for node in nodes["nodes"]]
            return (len(states) == count and all(state == "in_sync" for state in states)
                    and (nodes.get("config_version") or 0) > after and nodes["config_version"])
        wait_for(check, timeout=20, what=f"{count} nodes in sync")
        return self.api("GET", "/v1/nodes")[1]["config_version"]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                assert self.process.wait(timeout=40) == 0
            finally:
                if self.process.poll() is None:
                    self.process.kill()


class RegionNode:
    """One `meridian node` for a region, enrolled on the coordinator at `coordinator_port` by `admin` and joined to
    it at its first start; restartable on the same data directory and ports."""

    def __init__(self, work, region, coordinator, admin, coordinator_port, extra=()):
        self.work, self.region, self.coordinator_port, self.admin = work, region, coordinator_port, admin
        self.extra, self.wrapper = tuple(extra), ()
        self.node_port = coordinator.node_port
        self.smtp, self.control, self.probe = free_port(), free_port(), free_port()
        self.join = enroll(coordinator_port, admin, region, f"{region}-1", self.control)
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [*self.wrapper, MERIDIAN, "node", "--region", self.region, "--regions", os.path.join(ROOT, "Regions"),
             "--data-dir", os.path.join(self.work, f"node-{self.region}"), "--smtp-host", "127.0.0.1", "--smtp-port", str(self.smtp),
             "--control-port", str(self.control), "--probe-port", str(self.probe),
             "--coordinator", f"https://127.0.0.1:{self.node_port}", "--join", self.join, "--pull-interval", "1",
             "--dns-resolver", quiet_dns().address, *self.extra],
            cwd=ROOT, stdout=open(os.path.join(self.work, f"node-{self.region}.log"), "ab"), stderr=subprocess.STDOUT,
            start_new_session=bool(self.wrapper))
        wait_for(self.ready, timeout=30, what=f"the {self.region} node to answer its probe port")

    def ready(self):
        """Started: its services run (a SIGTERM before then is not a graceful stop)."""
        if self.process.poll() is not None:
            log = open(os.path.join(self.work, f"node-{self.region}.log")).read()
            raise AssertionError(f"the {self.region} node exited with {self.process.returncode}:\n{exit_report(log)}")
        return node_status(self.probe) is not None

    def stop(self):
        if self.process.poll() is None:
            if self.wrapper:  # faketime forks and does not pass signals on: the whole group, until it is gone
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=40)

                def gone():
                    try:
                        os.killpg(self.process.pid, 0)
                        return False
                    except ProcessLookupError:
                        return True
                wait_for(gone, timeout=40, what=f"the {self.region} node's processes to exit")
                return
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=40) == 0

    def messages(self, customer_id, **query):
        """This node's records of a customer's messages, as the coordinator's federated query returns them (the
        node's control API answers only the coordinator)."""
        query = "&".join([f"{k}={urllib.parse.quote(v)}" for k, v in query.items()])
        status, body = api(self.coordinator_port, "GET", f"/v1/customers/{customer_id}/messages?{query}", self.admin)
        assert status == 200, body
        ours = [source for source in body["sources"] if source.get("region") == self.region]
        assert ours and all(source["status"] == "ok" for source in ours), body["sources"]
        return [record for record in body["messages"] if record["region"] == self.region]

    def status(self):
        status = node_status(self.probe)
        assert status is not None, "the node's probe port does not answer"
        return status


def fleet_with_a_dead_node(work, coordinator, admin, port, nodes):
    """An eu and a us node joined to the coordinator, and an ap node that joined and then stopped for good; each
    goes on `nodes` as soon as it runs (so that a failure to start the next stops it too). Returns (eu, us, dead)."""
    eu = RegionNode(work, "eu", coordinator, admin, port)
    nodes.append(eu)
    us = RegionNode(work, "us", coordinator, admin, port)
    nodes.append(us)
    os.makedirs(os.path.join(work, "gone"))
    dead = RegionNode(os.path.join(work, "gone"), "ap", coordinator, admin, port)
    nodes.append(dead)
    wait_for(lambda: [n["enrollment"] for n in api(port, "GET", "/v1/nodes", admin)[1]["nodes"]] == ["active"] * 3, what="three nodes joined")
    dead.stop()
    return eu, us, dead
