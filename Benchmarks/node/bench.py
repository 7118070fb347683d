"""Node ingest benchmark (docs/benchmarks.md): Postfix's smtp-source drives a Meridian node in queued mode
(fsync'd spool, delivering to a webhook sink) and a stock Postfix relaying to smtp-sink, in the same run, with
the same message size, sessions and count. Prints accept rate, end-to-end rate and p99 transaction time for
both, with ratios, and the node's RSS with 1,000 idle sessions open.

With --baseline OTHER_MERIDIAN_BINARY (an earlier build, say), that node runs in every round too, so that a
change is measured against what it replaces in the same run.

Usage: bench.py MERIDIAN_BINARY [--messages N] [--sessions N] [--size BYTES] [--rounds N] [--baseline BINARY]"""

import argparse
import base64
import json
import os
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
from pki import PKI_SHARED  # noqa: E402


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def smtp_source(port, messages, sessions, size):
    """Runs smtp-source; returns the seconds it took to have every message accepted."""
    started = time.monotonic()
    subprocess.run([SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(size), "-f", "bench@sender.example",
                    "-t", "inbox@bench.example", "-M", "client.example", f"127.0.0.1:{port}"], check=True)
    return time.monotonic() - started, started


def transaction_times(port, sessions=20, per_session=50):
    """Per-transaction latency (MAIL FROM to the reply after DATA) with smtplib, `sessions` at once."""
    times, lock = [], threading.Lock()
    body = ("Subject: latency\r\n\r\n" + "x" * 76 + "\r\n") * 64

    def client():
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo("client.example")
            for _ in range(per_session):
                start = time.perf_counter()
                smtp.sendmail("bench@sender.example", ["inbox@bench.example"], body)
                elapsed = time.perf_counter() - start
                with lock:
                    times.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times.sort()
    return times[int(len(times) * 0.99) - 1]


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
    def __init__(self, binary, work, sink):
        self.work = work
        os.makedirs(work)
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        bundle = {"version": 1, "region": "eu", "customers": [{
            "id": "cus_bench", "region": "eu", "domains": ["bench.example"],
            "webhook": {"url": f"http://127.0.0.1:{sink.port}/hook", "mode": "queued", "secret": secret}}],
            # The sink listens on loopback; a build without an egress policy ignores the key.
            "egress": {"allow_http": True, "allow_networks": ["127.0.0.0/8"]}}
        self.port, self.control = free_port(), free_port()
        flags = []
        # A build with node identity runs on an enrollment and a signed bundle (Tests/pki.py stands in for the
        # coordinator); an earlier one (--baseline) on a plain bundle file.
        if "--join" in subprocess.run([binary, "node", "--help"], capture_output=True, text=True).stdout:
            PKI_SHARED.write_identity(work, "eu", "eu-1", self.control)
            bundle = PKI_SHARED.sign(bundle)
            flags = ["--probe-port", str(free_port())]
        with open(os.path.join(work, "bundle.json"), "w") as f:
            json.dump(bundle, f)
        self.process = subprocess.Popen(
            [binary, "node", "--region", "eu", "--regions", os.path.join(ROOT, "Regions"), "--data-dir", work,
             "--smtp-host", "127.0.0.1", "--smtp-port", str(self.port), "--control-port", str(self.control), *flags,
             "--max-connections", "5000", "--max-connections-per-ip", "5000"],
            stdout=open(os.path.join(work, "node.log"), "wb"), stderr=subprocess.STDOUT,
            env=dict(os.environ, MERIDIAN_NODE_TOKEN="mrd_" + "b" * 43, LOG_LEVEL="warning"))
        wait_for(lambda: listening(self.port), 30, "the Meridian node")

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

    def __init__(self, work):
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=5 * 1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="another meridian binary to measure in the same rounds (an earlier build)")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    systems = ["meridian", "postfix"] + (["baseline"] if args.baseline else [])
    results = {system: [] for system in systems}
    work = tempfile.mkdtemp(prefix="meridian-bench-node.")
    os.chmod(work, 0o755)  # Postfix's daemons run as the postfix user
    try:
        for round_ in range(args.rounds):
            # Rotate who goes first, so that none always runs on a warmer (or noisier) machine.
            order = systems[round_ % len(systems):] + systems[:round_ % len(systems)]
            for system in order:
                base = os.path.join(work, f"{system}-{round_}")
                if system in ("meridian", "baseline"):
                    sink = Sink()
                    node = MeridianNode(args.binary if system == "meridian" else args.baseline, base, sink)
                    accept, started = smtp_source(node.port, args.messages, args.sessions, args.size)
                    wait_for(lambda: sink.count() >= args.messages, 600, "Meridian's deliveries")
                    end_to_end = time.monotonic() - started
                    p99 = transaction_times(node.port)
                    rss = idle_sessions_rss(node) if round_ < len(systems) else None
                    node.stop()
                    sink.stop()
                else:
                    postfix = Postfix(base)
                    accept, started = smtp_source(postfix.port, args.messages, args.sessions, args.size)
                    wait_for(postfix.queue_empty, 600, "Postfix's deliveries")
                    end_to_end = time.monotonic() - started
                    p99 = transaction_times(postfix.port)
                    wait_for(postfix.queue_empty, 600, "Postfix's queue")
                    rss = None
                    postfix.stop()
                row = {"accept": args.messages / accept, "e2e": args.messages / end_to_end, "p99_ms": p99 * 1000, "rss": rss}
                results[system].append(row)
                print(f"round {round_ + 1} {system:8}: accepted {row['accept']:7.0f} msg/s, end to end {row['e2e']:7.0f} msg/s, "
                      f"p99 transaction {row['p99_ms']:6.1f} ms" + (f", RSS with 1,000 idle sessions {rss:.0f} MB" if rss else ""),
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median(system, key):
        return statistics.median(r[key] for r in results[system])

    print(f"\nnode ingest: {args.messages} messages of {args.size} bytes, {args.sessions} sessions, median of {args.rounds} rounds")
    print(f"| | Meridian node (queued, fsync) | Postfix {subprocess.run(['postconf', '-d', '-h', 'mail_version'], capture_output=True, text=True).stdout.strip()} -> smtp-sink | ratio | target |")
    print("|---|---|---|---|---|")
    for key, label, better, target in (("accept", "accepted, msg/s", "higher", "≥ 2×"), ("e2e", "end to end, msg/s", "higher", "≥ 1.5×"),
                                       ("p99_ms", "p99 transaction, ms", "lower", "")):
        m, p = median("meridian", key), median("postfix", key)
        ratio = m / p if better == "higher" else p / m
        print(f"| {label} | {m:.1f} | {p:.1f} | {ratio:.2f}× | {target} |")
    rss = statistics.median(r["rss"] for r in results["meridian"] if r["rss"])
    print(f"| node RSS, 1,000 idle sessions | {rss:.0f} MB | | | < 150 MB |")
    if args.baseline:
        print(f"\nthis build against the baseline ({args.baseline}), medians of the same {args.rounds} rounds")
        print("| | this build | baseline | this / baseline |")
        print("|---|---|---|---|")
        for key, label in (("accept", "accepted, msg/s"), ("e2e", "end to end, msg/s"), ("p99_ms", "p99 transaction, ms")):
            m, b = median("meridian", key), median("baseline", key)
            print(f"| {label} | {m:.1f} | {b:.1f} | {m / b:.2f} |")
        base_rss = statistics.median(r["rss"] for r in results["baseline"] if r["rss"])
        print(f"| node RSS, 1,000 idle sessions, MB | {rss:.0f} | {base_rss:.0f} | {rss / base_rss:.2f} |")


if __name__ == "__main__":
    main()
