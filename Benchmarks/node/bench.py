"""Node ingest benchmark (docs/benchmarks.md): Postfix's smtp-source drives a Meridian node in queued mode
(fsync'd spool, delivering to a webhook sink) and a stock Postfix relaying to smtp-sink, in the same run, with
the same message size, sessions and count. Prints accept rate, end-to-end rate and p99 transaction time for
both, with ratios, and the node's RSS with 1,000 idle sessions open. The node authenticates senders as it does
by default, asking a DNS server on loopback (dnslib) that publishes SPF and DMARC for the sender's domain.

With --filtering, the same run also measures both with filtering on, on messages with an attachment, half of
them DKIM-signed: the node with SPF, DKIM, DMARC, rspamd (/checkv2) and ClamAV (INSTREAM), against Postfix
with rspamd as its milter doing SPF, DKIM, DMARC and ClamAV (its antivirus module). The DNS records have a TTL
of 0, so neither stack answers from a cache. It prints both ratios and the p99 each stack adds per message.

With --baseline OTHER_MERIDIAN_BINARY (an earlier build, say), that node runs in every round too, so that a
change is measured against what it replaces in the same run.

Usage: bench.py MERIDIAN_BINARY [--messages N] [--sessions N] [--size BYTES] [--rounds N] [--baseline BINARY]
                                [--filtering]"""

import argparse
import base64
import json
import os
import random
import resource
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from support import free_port, wait_for  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "Tests"))
from harness import Clamd, Rspamd  # noqa: E402
from pki import PKI_SHARED  # noqa: E402


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def smtp_source(port, messages, sessions, size, files=()):
    """Runs smtp-source; returns the seconds it took to have every message accepted, and when it started. With
    `files` (messages smtp-source sends as they are), one smtp-source per file shares the sessions and messages."""
    base = [SMTP_SOURCE, "-f", "bench@sender.example", "-t", "inbox@bench.example", "-M", "client.example"]
    started = time.monotonic()
    if not files:
        subprocess.run([*base, "-s", str(sessions), "-m", str(messages), "-l", str(size), f"127.0.0.1:{port}"], check=True)
    else:
        runs = [subprocess.Popen([*base, "-s", str(max(1, sessions // len(files))), "-m", str(messages // len(files)),
                                  "-F", file, f"127.0.0.1:{port}"]) for file in files]
        if any(run.wait() != 0 for run in runs):
            raise SystemExit("bench: smtp-source failed")
    return time.monotonic() - started, started


def transaction_times(port, bodies=None, sessions=20, per_session=50):
    """The p99 transaction latency (MAIL FROM to the reply after DATA) with smtplib, `sessions` at once; each
    session sends one of `bodies` in turn (by default, a small plain message)."""
    times, lock = [], threading.Lock()
    bodies = bodies or [("Subject: latency\r\n\r\n" + "x" * 76 + "\r\n") * 64]

    def client(body):
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo("client.example")
            for _ in range(per_session):
                start = time.perf_counter()
                smtp.sendmail("bench@sender.example", ["inbox@bench.example"], body)
                elapsed = time.perf_counter() - start
                with lock:
                    times.append(elapsed)

    threads = [threading.Thread(target=client, args=(bodies[n % len(bodies)],)) for n in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times.sort()
    return times[int(len(times) * 0.99) - 1]


class Nsd:
    """NSD (Debian's package), authoritative on loopback for `example.` and 127.in-addr.arpa: the zone both stacks
    ask. A server in C, so that DNS is not what limits either stack (dnslib, the tests' Python server, held the
    node back when every message asked it). Every other name under example. is NXDOMAIN."""

    def __init__(self, work, records, ttl):
        self.dir = os.path.join(work, "nsd")
        os.makedirs(self.dir)
        self.port = free_port()

        def txt(value):  # strings of at most 255 characters
            return "( " + " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255)) + " )"

        head = f"$TTL {ttl}\n@ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 {ttl}\n@ IN NS ns.example.\n"
        with open(os.path.join(self.dir, "example.zone"), "w") as f:
            f.write(head + "ns IN A 127.0.0.1\nclient IN A 127.0.0.1\n")
            for name, value in records.items():
                f.write(f"{name}. IN TXT {txt(value)}\n")
        with open(os.path.join(self.dir, "127.zone"), "w") as f:
            f.write(head + "1.0.0 IN PTR client.example.\n")
        with open(os.path.join(self.dir, "nsd.conf"), "w") as f:
            f.write(f"""server:
    ip-address: 127.0.0.1
    port: {self.port}
    username: ""
    chroot: ""
    zonesdir: "{self.dir}"
    zonelistfile: "{self.dir}/zone.list"
    xfrdfile: "{self.dir}/xfrd.state"
    pidfile: "{self.dir}/nsd.pid"
    logfile: "{self.dir}/nsd.log"
    database: ""
    server-count: 1
    rrl-ratelimit: 0  # every query comes from one address; rate limiting would drop most
    rrl-whitelist-ratelimit: 0
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: "example"
    zonefile: "example.zone"
zone:
    name: "127.in-addr.arpa"
    zonefile: "127.zone"
""")
        subprocess.run(["nsd-checkconf", os.path.join(self.dir, "nsd.conf")], check=True)
        self.process = subprocess.Popen(["nsd", "-d", "-c", os.path.join(self.dir, "nsd.conf")],
                                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "out.log"), "wb"))
        wait_for(self.answers, 30, "NSD")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def answers(self):
        if self.process.poll() is not None:
            raise SystemExit(f"bench: NSD exited: {open(os.path.join(self.dir, 'out.log')).read()[-2000:]}")
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06sender\x07example\x00\x00\x10\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(query, ("127.0.0.1", self.port))
            answer = s.recv(4096)
        return answer[:2] == b"\x12\x34" and answer[3] & 0x0F == 0

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Filters:
    """What sender authentication and filtering ask: a DNS zone (NSD) publishing SPF, a DKIM key and DMARC
    (p=reject) for sender.example, its records' TTL `ttl`; with `scanners`, one clamd and two rspamd with the
    harness's offline configuration and a worker per core: one for the node (its SPF, DKIM and DMARC modules off, as the node does
    them), and one for Postfix in milter mode (a proxy worker that scans itself) with SPF, DKIM, DMARC and the
    antivirus module asking the same clamd. Also writes the filtering run's messages."""

    def __init__(self, work, ttl, scanners):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = base64.b64encode(self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
        self.zone = Nsd(work, {
            "sender.example": "v=spf1 ip4:127.0.0.0/8 -all",
            "bench._domainkey.sender.example": f"v=DKIM1; k=rsa; p={public}",
            "_dmarc.sender.example": "v=DMARC1; p=reject",
        }, ttl)
        self.rspamd = self.milter = self.clamd = None
        if scanners:
            workers = os.cpu_count() or 1
            print(f"bench: starting clamd and two rspamd ({workers} workers each; about 20 s)", flush=True)
            self.clamd = Clamd(work)
            self.rspamd = Rspamd(work, self.zone, workers=workers, name="rspamd-node")
            antivirus = (f'clamav {{ type = "clamav"; servers = "{self.clamd.address}"; symbol = "CLAM_VIRUS"; '
                         f'action = "reject"; scan_mime_parts = true; scan_text_mime = false; scan_image_mime = false; }}\n')
            # rspamd skips SPF, DKIM and DMARC for local addresses unless told otherwise; the benchmark's clients are local.
            self.milter = Rspamd(work, self.zone, enable=("spf", "dkim", "dmarc"), workers=workers, milter=True,
                                 local={"antivirus.conf": antivirus, "spf.conf": "check_local = true;\n",
                                        "dkim.conf": "check_local = true;\n", "dmarc.conf": "check_local = true;\n"},
                                 name="rspamd-milter")
            self.confirm_milter_checks()
        self.files = [os.path.join(work, name) for name in ("signed.eml", "plain.eml")]
        self.bodies = [self.message(signed) for signed in (True, False)]
        for file, body in zip(self.files, self.bodies):
            with open(file, "wb") as f:  # smtp-source ends each line with CRLF itself
                f.write(body.replace(b"\r\n", b"\n"))

    def message(self, signed, attachment=None):
        """A 5 KB message from alice@sender.example: a text part and a 3 KB attachment (or `attachment`)."""
        import dkim
        data = attachment or bytes(random.Random(7).randrange(256) for _ in range(3072))
        encoded = base64.encodebytes(data).decode().replace("\n", "\r\n")
        body = ("From: Alice <alice@sender.example>\r\nTo: inbox@bench.example\r\nSubject: The quarterly figures\r\n"
                "Message-ID: <bench@sender.example>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
                + "Hello, the figures for the quarter are attached; tell me what you think of them.\r\n" * 12
                + '--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="figures.pdf"\r\n'
                "Content-Transfer-Encoding: base64\r\n\r\n" + encoded + "--b1--\r\n").encode()
        if not signed:
            return body
        from cryptography.hazmat.primitives import serialization
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
        return dkim.sign(body, b"bench", b"sender.example", pem,
                         include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + body

    def confirm_milter_checks(self):
        """Asks the milter's rspamd about a signed message from 127.0.0.1 and exits unless SPF, DKIM and DMARC
        all passed there: the comparison only holds when Postfix's stack does the same checks as the node."""
        request = urllib.request.Request(self.milter.url + "/checkv2", data=self.message(True), headers={
            "IP": "127.0.0.1", "From": "bench@sender.example", "Rcpt": "inbox@bench.example", "Helo": "client.example"})
        with urllib.request.urlopen(request, timeout=30) as r:
            symbols = json.load(r).get("symbols", {})
        missing = {"R_SPF_ALLOW", "R_DKIM_ALLOW", "DMARC_POLICY_ALLOW"} - set(symbols)
        if missing:
            raise SystemExit(f"bench: the milter's rspamd did not find {', '.join(sorted(missing))} (it found {sorted(symbols)})")

    def stop(self):
        for engine in (self.milter, self.rspamd, self.clamd):
            if engine:
                engine.stop()
        self.zone.close()


class Sink:
    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "webhook_sink.py"), str(self.port)])
        wait_for(lambda: listening(self.port), 10, "the webhook sink")

    def count(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as r:
            return int(r.read())

    def stop(self):
        self.process.kill()


class MeridianNode:
    def __init__(self, binary, work, sink, flags=(), regions=os.path.join(ROOT, "Regions"), dns_resolver=None):
        self.work = work
        os.makedirs(work)
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        bundle = {"version": 1, "region": "eu", "customers": [{
            "id": "cus_bench", "region": "eu", "domains": ["bench.example"],
            "webhook": {"url": f"http://127.0.0.1:{sink.port}/hook", "mode": "queued", "secret": secret}}],
            # The sink listens on loopback; a build without an egress policy ignores the key.
            "egress": {"allow_http": True, "allow_networks": ["127.0.0.0/8"]}}
        self.port, self.control = free_port(), free_port()
        flags = list(flags)
        # A build with node identity runs on an enrollment and a signed bundle (Tests/pki.py stands in for the
        # coordinator); an earlier one (--baseline) on a plain bundle file.
        help_text = subprocess.run([binary, "node", "--help"], capture_output=True, text=True).stdout
        # A build from before sender authentication (--baseline) has no resolver to point.
        if dns_resolver and "--dns-resolver" in help_text:
            flags += ["--dns-resolver", dns_resolver]
        if "--join" in help_text:
            PKI_SHARED.write_identity(work, "eu", "eu-1", self.control)
            bundle = PKI_SHARED.sign(bundle)
            self.probe = free_port()
            flags += ["--probe-port", str(self.probe)]
        with open(os.path.join(work, "bundle.json"), "w") as f:
            json.dump(bundle, f)
        self.process = subprocess.Popen(
            [binary, "node", "--region", "eu", "--regions", regions, "--data-dir", work,
             "--smtp-host", "127.0.0.1", "--smtp-port", str(self.port), "--control-port", str(self.control), *flags,
             "--max-connections", "5000", "--max-connections-per-ip", "5000"],
            stdout=open(os.path.join(work, "node.log"), "wb"), stderr=subprocess.STDOUT,
            env=dict(os.environ, MERIDIAN_NODE_TOKEN="mrd_" + "b" * 43, LOG_LEVEL="warning"))
        wait_for(lambda: listening(self.port), 30, "the Meridian node")

    def checks(self):
        """The sender-authentication and scan results the node counted, from its metrics: {"dkim pass": N, ...}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.probe}/metrics", timeout=5) as r:
            lines = r.read().decode().splitlines()
        counts = {}
        for line in lines:
            if line.startswith(("meridian_sender_authentication_total{", "meridian_scans_total{")):
                labels = dict(part.split("=", 1) for part in line[line.index("{") + 1:line.index("}")].split(","))
                what = labels.get("check", labels.get("scanner", "")).strip('"')
                counts[f"{what} {labels['result'].strip(chr(34))}"] = int(float(line.rsplit(" ", 1)[1]))
        return counts

    def rss_mb(self):
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


class Postfix:
    """A stock Postfix (the Debian package's binaries and default settings) in a private directory, relaying
    everything for bench.example to smtp-sink. Its queue files are fsync'd as always."""

    def __init__(self, work, milter=None):
        self.work, self.port, self.sink_port = work, free_port(), free_port()
        conf, queue, data = (os.path.join(work, d) for d in ("conf", "queue", "data"))
        for d in (conf, queue, data):
            os.makedirs(d)
        shutil.copy("/etc/postfix/master.cf.proto", os.path.join(conf, "master.cf"))
        with open(os.path.join(conf, "master.cf"), "a") as f:
            f.write(f"127.0.0.1:{self.port} inet n - n - - smtpd\n")
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
myhostname = bench-postfix.example
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = bench.example
transport_maps = inline:{{bench.example=smtp:[127.0.0.1]:{self.sink_port}}}
smtpd_relay_restrictions = permit_mynetworks, reject
maillog_file = {work}/maillog
maillog_file_prefixes = {work}
smtp_tls_security_level = none
default_process_limit = 100
""")
            if milter:  # rspamd's recommended Postfix settings (rspamd.com/doc/integration.html)
                f.write(f"smtpd_milters = inet:{milter}\nnon_smtpd_milters = $smtpd_milters\nmilter_protocol = 6\n"
                        "milter_mail_macros = i {mail_addr} {client_addr} {client_name} {auth_authen}\n"
                        "milter_default_action = accept\n")
        # master.cf.proto's smtp line listens on port 25; keep only ours.
        lines = open(os.path.join(conf, "master.cf")).read().splitlines()
        lines = [l for l in lines if not l.startswith("smtp      inet")]
        open(os.path.join(conf, "master.cf"), "w").write("\n".join(lines) + "\n")
        # No chroot: the jail would need copies of system files in the queue directory.
        subprocess.run(["postconf", "-c", conf, "-F", "*/*/chroot = n"], check=True)
        shutil.chown(data, "postfix")
        self.sink = subprocess.Popen([SMTP_SINK, "-u", "postfix", "-c", f"127.0.0.1:{self.sink_port}", "256"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.conf = conf
        subprocess.run(["postfix", "-c", conf, "check"], check=True)
        started = subprocess.run(["postfix", "-c", conf, "start"], capture_output=True, text=True)
        if started.returncode != 0:
            raise SystemExit(f"bench: Postfix did not start: {started.stderr}{open(os.path.join(work, 'maillog')).read()[-2000:]}")
        wait_for(lambda: listening(self.port), 30, "Postfix")

    def milter_refusals(self):
        """How many transactions the milter refused or deferred, from Postfix's log."""
        try:
            return sum(1 for line in open(os.path.join(self.work, "maillog")) if "milter-reject" in line)
        except OSError:
            return 0

    def queue_empty(self):
        out = subprocess.run(["postqueue", "-c", self.conf, "-p"], capture_output=True, text=True).stdout
        return "Mail queue is empty" in out

    def stop(self):
        subprocess.run(["postfix", "-c", self.conf, "stop"], capture_output=True)
        self.sink.kill()


def idle_sessions_rss(node, sessions=1000):
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    sockets = []
    for _ in range(sessions):
        s = socket.create_connection(("127.0.0.1", node.port))
        sockets.append(s)
    for s in sockets:
        s.recv(200)
    time.sleep(1)
    rss = node.rss_mb()
    for s in sockets:
        s.close()
    return rss


POSTFIX_DAEMONS = {"master", "smtpd", "cleanup", "qmgr", "trivial-rewrite", "postlogd", "smtp", "anvil", "pickup", "tlsmgr",
                   "scache", "bounce", "proxymap", "showq", "postdrop", "sendmail"}


def cpu_ticks():
    """CPU time of every process now, in clock ticks, by (pid, what it is): Meridian, Postfix (its daemons,
    with the children they reaped), rspamd, clamd, NSD, the load (smtp-source, reaped by this process) or the
    sinks (smtp-sink and the webhook sink); the kernel's own threads and the rest are left out."""
    ticks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        what = ("load" if int(pid) == os.getpid()  # smtp-source's time, once reaped, is the benchmark's
                else "Meridian" if name.startswith("meridian") else "Postfix" if name in POSTFIX_DAEMONS
                else "rspamd" if name == "rspamd" else "clamd" if name == "clamd" else "DNS" if name.startswith("nsd")
                else "sinks" if name in ("smtp-sink", "python", "python3") else None)
        if what:
            ticks[(pid, what)] = sum(int(field) for field in fields[11:15])  # utime, stime, cutime, cstime
    return ticks


def cpu_per_message(before, after, messages):
    """Milliseconds of CPU per message each part used between two cpu_ticks()."""
    used = {}
    for (pid, what), ticks in after.items():
        used[what] = used.get(what, 0) + max(0, ticks - before.get((pid, what), 0))
    return {what: ticks * 1000 / os.sysconf("SC_CLK_TCK") / messages for what, ticks in used.items()}


def virus_refused(port, filters):
    """Whether a filtering stack refuses a message carrying the EICAR file: proof that its virus scan runs."""
    from harness import EICAR
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo("client.example")
            smtp.sendmail("bench@sender.example", ["inbox@bench.example"], filters.message(False, attachment=EICAR))
        return False
    except smtplib.SMTPDataError as error:
        return 500 <= error.smtp_code < 600


SYSTEMS = {
    "meridian": "Meridian node (queued, fsync)",
    "postfix": "Postfix -> smtp-sink",
    "meridian+filtering": "node + SPF/DKIM/DMARC, rspamd, ClamAV",
    "postfix+rspamd": "Postfix + rspamd milter (SPF/DKIM/DMARC, ClamAV)",
    "baseline": "baseline node",
}


def run_meridian(binary, base, args, filters, scanners, first, regions=os.path.join(ROOT, "Regions")):
    sink = Sink()
    flags = ["--rspamd", filters.rspamd.url, "--clamd", filters.clamd.address] if scanners else []
    node = MeridianNode(binary, base, sink, flags, regions, dns_resolver=filters.zone.address)
    try:
        if scanners and not virus_refused(node.port, filters):
            raise SystemExit("bench: the node with ClamAV took a message carrying the EICAR file")
        before = cpu_ticks()
        accept, started = smtp_source(node.port, args.messages, args.sessions, args.size, filters.files if args.filtering else ())
        wait_for(lambda: sink.count() >= args.messages, 600, "Meridian's deliveries")
        end_to_end = time.monotonic() - started
        cpu = cpu_per_message(before, cpu_ticks(), args.messages)
        p99 = transaction_times(node.port, filters.bodies if args.filtering else None)
        rss = idle_sessions_rss(node) if first and not scanners else None
        checks = node.checks() if first and hasattr(node, "probe") else None
    finally:
        node.stop()
        sink.stop()
    return accept, end_to_end, p99, rss, checks, cpu


def run_postfix(base, args, filters, milter):
    postfix = Postfix(base, milter=filters.milter.milter_address if milter else None)
    try:
        if milter and not virus_refused(postfix.port, filters):
            raise SystemExit("bench: Postfix with rspamd took a message carrying the EICAR file")
        refused = postfix.milter_refusals()
        before = cpu_ticks()
        accept, started = smtp_source(postfix.port, args.messages, args.sessions, args.size, filters.files if args.filtering else ())
        wait_for(postfix.queue_empty, 600, "Postfix's deliveries")
        end_to_end = time.monotonic() - started
        cpu = cpu_per_message(before, cpu_ticks(), args.messages)
        if postfix.milter_refusals() != refused:
            raise SystemExit(f"bench: rspamd refused {postfix.milter_refusals() - refused} of the benchmark's messages")
        p99 = transaction_times(postfix.port, filters.bodies if args.filtering else None)
        wait_for(postfix.queue_empty, 600, "Postfix's queue")
    finally:
        postfix.stop()
    return accept, end_to_end, p99, None, None, cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--messages", type=int, help="per run (default 10,000; 4,000 with --filtering)")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=5 * 1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="another meridian binary to measure in the same rounds (an earlier build)")
    parser.add_argument("--baseline-regions", default=os.path.join(ROOT, "Regions"),
                        help="the Regions directory the baseline reads, when its format differs (git worktree of its commit)")
    parser.add_argument("--filtering", action="store_true", help="also measure both stacks with filtering on")
    args = parser.parse_args()
    args.messages = args.messages or (4000 if args.filtering else 10000)
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    systems = ["meridian", "postfix"] + (["meridian+filtering", "postfix+rspamd"] if args.filtering else []) \
        + (["baseline"] if args.baseline else [])
    results = {system: [] for system in systems}
    work = tempfile.mkdtemp(prefix="meridian-bench-node.")
    os.chmod(work, 0o755)  # Postfix's daemons run as the postfix user
    filters = Filters(work, ttl=0 if args.filtering else 60, scanners=args.filtering)
    try:
        for round_ in range(args.rounds):
            # Rotate who goes first, so that none always runs on a warmer (or noisier) machine.
            order = systems[round_ % len(systems):] + systems[:round_ % len(systems)]
            for system in order:
                base = os.path.join(work, f"{system}-{round_}")
                if system.startswith("postfix"):
                    accept, end_to_end, p99, rss, checks, cpu = run_postfix(base, args, filters, system == "postfix+rspamd")
                else:
                    binary, regions = (args.baseline, args.baseline_regions) if system == "baseline" else (args.binary, None)
                    accept, end_to_end, p99, rss, checks, cpu = run_meridian(binary, base, args, filters, system == "meridian+filtering",
                                                                             first=round_ == 0, regions=regions or os.path.join(ROOT, "Regions"))
                row = {"accept": args.messages / accept, "e2e": args.messages / end_to_end, "p99_ms": p99 * 1000, "rss": rss,
                       "cpu": cpu}
                results[system].append(row)
                print(f"round {round_ + 1} {system:18}: accepted {row['accept']:7.0f} msg/s, end to end {row['e2e']:7.0f} msg/s, "
                      f"p99 transaction {row['p99_ms']:6.1f} ms" + (f", RSS with 1,000 idle sessions {rss:.0f} MB" if rss else ""),
                      flush=True)
                print("    CPU per message: " + ", ".join(f"{what} {ms:.2f} ms" for what, ms in sorted(cpu.items(), key=lambda i: -i[1])
                                                            if ms >= 0.01), flush=True)
                if checks:
                    print("    the node counted: " + ", ".join(f"{k} {v}" for k, v in sorted(checks.items())), flush=True)
    finally:
        filters.stop()
        shutil.rmtree(work, ignore_errors=True)

    def median(system, key):
        return statistics.median(r[key] for r in results[system])

    version = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True, text=True).stdout.strip()
    what = "5 KB messages with a 3 KB attachment, half DKIM-signed" if args.filtering else f"messages of {args.size} bytes"
    print(f"\nnode ingest: {args.messages} {what}, {args.sessions} sessions, median of {args.rounds} rounds (Postfix {version})")
    pairs = [("meridian", "postfix", "≥ 2×", "≥ 1.5×")] + ([("meridian+filtering", "postfix+rspamd", "≥ 2×", "≥ 2×")] if args.filtering else [])
    for ours, theirs, accept_target, e2e_target in pairs:
        print(f"\n| | {SYSTEMS[ours]} | {SYSTEMS[theirs]} | ratio | target |")
        print("|---|---|---|---|---|")
        for key, label, better, target in (("accept", "accepted, msg/s", "higher", accept_target),
                                           ("e2e", "end to end, msg/s", "higher", e2e_target),
                                           ("p99_ms", "p99 transaction, ms", "lower", "")):
            m, p = median(ours, key), median(theirs, key)
            ratio = m / p if better == "higher" else p / m
            print(f"| {label} | {m:.1f} | {p:.1f} | {ratio:.2f}× | {target} |")
        if ours == "meridian":
            rss = statistics.median(r["rss"] for r in results["meridian"] if r["rss"])
            print(f"| node RSS, 1,000 idle sessions | {rss:.0f} MB | | | < 150 MB |")
    print(f"\nCPU per message, ms (median of {args.rounds} rounds, while the messages of the throughput run were taken and delivered)")
    parts = sorted({what for system in systems for row in results[system] for what in row["cpu"]})
    print("| | " + " | ".join(parts) + " | all |")
    print("|---|" + "---|" * (len(parts) + 1))
    for system in systems:
        cells = [statistics.median(row["cpu"].get(what, 0) for row in results[system]) for what in parts]
        print(f"| {system} | " + " | ".join(f"{ms:.2f}" for ms in cells) + f" | {statistics.median(sum(r['cpu'].values()) for r in results[system]):.2f} |")
    if args.filtering:
        print("\np99 each stack adds per message with filtering on (median p99 with it, minus without it)")
        print(f"| Meridian node | {median('meridian+filtering', 'p99_ms') - median('meridian', 'p99_ms'):+.1f} ms |")
        print(f"| Postfix + rspamd | {median('postfix+rspamd', 'p99_ms') - median('postfix', 'p99_ms'):+.1f} ms |")
    if args.baseline:
        print(f"\nthis build against the baseline ({args.baseline}), medians of the same {args.rounds} rounds")
        print("| | this build | baseline | this / baseline |")
        print("|---|---|---|---|")
        for key, label in (("accept", "accepted, msg/s"), ("e2e", "end to end, msg/s"), ("p99_ms", "p99 transaction, ms")):
            m, b = median("meridian", key), median("baseline", key)
            print(f"| {label} | {m:.1f} | {b:.1f} | {m / b:.2f} |")
        rss = statistics.median(r["rss"] for r in results["meridian"] if r["rss"])
        base_rss = statistics.median(r["rss"] for r in results["baseline"] if r["rss"])
        print(f"| node RSS, 1,000 idle sessions, MB | {rss:.0f} | {base_rss:.0f} | {rss / base_rss:.2f} |")


if __name__ == "__main__":
    main()
