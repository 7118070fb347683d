"""A whole Meridian deployment on loopback, built from this tree and nothing mocked:

- PostgreSQL (a throwaway cluster, scripts/postgres-throwaway) under three coordinator replicas, each reaching it
  through a proxy of its own (balancer.py) that the fault suite can cut, with one load balancer in front of
  their API ports and another in front of their node ports (nodes and the API watcher go through them);
- three regions with two `meridian node` processes each. Every region has its own loopback network
  (eu 127.1.0.0/16, us 127.2.0.0/16, ap 127.3.0.0/16), so every node listens on the same SMTP port on its
  own address, as it would on its own machine, and the region's MX host resolves to both of its nodes;
- a DNS server (dnslib) serving the service zone (eu.mx., us.mx., ap.mx., mx.) and the customers' MX and
  TXT records, used by the coordinator's DNS check and by the load generator's MX lookups;
- one webhook sink for every customer, and an SMTP sink as the smarthost for delivery status notifications.

The deployment reads a copy of Regions/ with two nodes per region and queue retries shortened to 1-2 s,
so that an outage's recovery shows within a test. Everything else is the shipped configuration.

Run `scripts/e2e --up` to start it and look around; the fault suite (faults.py) drives it.
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import MERIDIAN, REPLICA_KEY_FILES, ROOT, DNSZone, SMTPSink, WebhookSink, free_port, wait_for  # noqa: E402
from balancer import Balancer  # noqa: E402

REGIONS = ("eu", "us", "ap")
NETWORK = {"eu": "127.1.0", "us": "127.2.0", "ap": "127.3.0"}
ZONE = "meridian.example"
REPLICAS = ("r1", "r2", "r3")


def http(method, url, token=None, body=None, timeout=20, context=None):
    """(status, parsed JSON or raw bytes). Raises OSError when nothing answers."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, method=method, data=data)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


class Process:
    """A child process with its command line kept, so it can be killed and started again on the same data."""

    def __init__(self, name, args, log, env=None, ready=None, prefix=()):
        self.name, self.args, self.log_path, self.env, self.ready_check = name, list(args), log, env, ready
        self.prefix = list(prefix)
        self.process = None

    def start(self, prefix=None, extra=()):
        if prefix is not None:
            self.prefix = list(prefix)
        with open(self.log_path, "ab") as log:
            # A session of its own, so that signals reach the whole group: a wrapper such as faketime forks the
            # real process and does not pass signals on.
            self.process = subprocess.Popen(self.prefix + self.args + list(extra), stdout=log, stderr=subprocess.STDOUT,
                                            env=dict(os.environ, **(self.env or {})), start_new_session=True)
        if self.ready_check:
            wait_for(self.ready, timeout=60, interval=0.05, what=f"{self.name} to start (log: {self.log_path})")

    def ready(self):
        if self.process.poll() is not None:
            tail = open(self.log_path, errors="replace").read()[-3000:]
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{tail}")
        return self.ready_check()

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """kill -9: no shutdown, no flush; what a power cut does to the process."""
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self._group_gone()

    def _group_gone(self, timeout=40.0):
        """Waits until nothing of the process group is left (the real process behind a wrapper included)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self):
        if self.running:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self._group_gone()


class Node(Process):
    def __init__(self, deployment, region, index):
        self.region, self.id = region, f"{region}-{index}"
        self.address = f"{NETWORK[region]}.{index}"
        self.smtp_port, self.control_port, self.probe_port = deployment.smtp_port, deployment.control_port, deployment.probe_port
        self.data = os.path.join(deployment.work, self.id)
        os.makedirs(self.data, exist_ok=True)
        # Enrolled as an admin does it; the node joins with the token at its first start and keeps its
        # enrollment across restarts (the same token again is not used twice).
        status, enrolled = deployment.api("POST", "/v1/nodes", {"region": region, "node_id": self.id, "control_url": self.control_url})
        assert status == 201, enrolled
        args = [
            MERIDIAN, "node", "--region", region, "--regions", deployment.regions,
            "--data-dir", self.data, "--smtp-host", self.address, "--smtp-port", str(self.smtp_port),
            "--control-host", self.address, "--control-port", str(self.control_port), "--probe-port", str(self.probe_port),
            "--coordinator", deployment.node_url, "--join", enrolled["join_token"],
            "--smarthost", f"127.0.0.1:{deployment.smarthost.port}", "--webhook-timeout", "5", "--idle-timeout", "20",
            "--dns-resolver", deployment.dns.address,
        ]
        super().__init__(self.id, args, os.path.join(deployment.work, f"{self.id}.log"), env={"LOG_LEVEL": "info"}, ready=self.answers)

    @property
    def control_url(self):
        return f"https://{self.address}:{self.control_port}"

    @property
    def probe_url(self):
        return f"http://{self.address}:{self.probe_port}"

    def answers(self):
        try:
            with socket.create_connection((self.address, self.smtp_port), timeout=0.5) as s:
                s.recv(100)
            return http("GET", f"{self.probe_url}/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def status(self):
        """The node's own /v1/status from its probe port, or {} when it does not answer."""
        try:
            status, body = http("GET", f"{self.probe_url}/v1/status", timeout=2)
        except OSError:
            return {}
        return body if status == 200 and isinstance(body, dict) else {}

    def config_version(self):
        return self.status().get("config_version")

    def nacks(self):
        """How many bundles the node refused, from its metrics."""
        try:
            _, body = http("GET", f"{self.probe_url}/metrics", timeout=2)
        except OSError:
            return 0
        for line in body.decode().splitlines() if isinstance(body, bytes) else []:
            if line.startswith("meridian_config_bundles_total{") and 'result="nack"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0

    def metric(self, name):
        try:
            _, body = http("GET", f"{self.probe_url}/metrics", timeout=2)
        except OSError:
            return None
        for line in body.decode().splitlines() if isinstance(body, bytes) else []:
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None


class Replica(Process):
    """`meridian coordinator --replica NAME`, reaching PostgreSQL through a proxy of its own (`database_proxy`),
    which `cut()` turns into a broken network for this replica alone."""

    def __init__(self, deployment, name, pg_port):
        self.name = name
        self.port, self.node_port = free_port(), free_port()
        self.data = os.path.join(deployment.work, name)
        self.database_proxy = Balancer([("127.0.0.1", pg_port)])
        self.deployment = deployment
        database = f"postgres://postgres@127.0.0.1:{self.database_proxy.port}/postgres"
        super().__init__(name, [
            MERIDIAN, "coordinator", "--database", database, "--data-dir", self.data, "--replica", name,
            "--port", str(self.port), "--node-port", str(self.node_port), "--regions", deployment.regions,
            "--dns-resolver", deployment.dns.address, "--smarthost", f"127.0.0.1:{deployment.smarthost.port}",
            # The receivers listen on loopback: this deployment allows http there, as an operator's private network.
            "--webhook-allow-http", "--webhook-allow-network", "127.0.0.0/8",
        ], os.path.join(deployment.work, f"{name}.log"), env={}, ready=self.answers)

    def answers(self):
        if self.deployment.admin is None:
            token = os.path.join(self.deployment.replicas[0].data, "admin-token")
            if not os.path.exists(token):
                return False
            self.deployment.admin = open(token).read().strip()
        try:
            return http("GET", f"http://127.0.0.1:{self.port}/v1/whoami", self.deployment.admin, timeout=2)[0] == 200
        except OSError:
            return False


class Deployment:
    """Starts everything in `work` (see the module's description); `close()` stops it all."""

    def __init__(self, work, progress=print):
        self.work, self.say = work, progress
        self.processes = []
        self.pgdir = None
        os.makedirs(work, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self):
        self.say("deployment: PostgreSQL")
        pgdir_file = os.path.join(self.work, "pgdir")
        self.database_url = subprocess.run([os.path.join(ROOT, "scripts", "postgres-throwaway"), pgdir_file], check=True,
                                           capture_output=True, text=True).stdout.strip()
        self.pgdir = open(pgdir_file).read().strip()

        self.dns = DNSZone()
        self.smarthost = SMTPSink()
        self.sink = WebhookSink()
        self.regions = self._regions()

        self.say("deployment: three coordinator replicas on PostgreSQL, behind two load balancers")
        pg_port = int(self.database_url.rsplit(":", 1)[1].split("/")[0])
        self.replicas = [Replica(self, name, pg_port) for name in REPLICAS]
        self.processes += self.replicas
        self.api_balancer = Balancer([("127.0.0.1", r.port) for r in self.replicas], health=self._healthy)
        self.node_balancer = Balancer([("127.0.0.1", r.node_port) for r in self.replicas],
                                      health=lambda backend: self._healthy(("127.0.0.1", self._replica_by_node_port(backend[1]).port)))
        self.coordinator_port = self.api_balancer.port
        self.coordinator_url = f"http://127.0.0.1:{self.coordinator_port}"
        self.node_port = self.node_balancer.port
        self.node_url = f"https://127.0.0.1:{self.node_port}"
        self.admin = None
        first = self.replicas[0]
        first.start()
        for replica in self.replicas[1:]:
            os.makedirs(replica.data, exist_ok=True)
            for file in REPLICA_KEY_FILES:
                shutil.copy2(os.path.join(first.data, file), os.path.join(replica.data, file))
            replica.start()
        self.coordinator_data = first.data

        self.customers = self._customers()

        self.say("deployment: six nodes (two per region)")
        self.nodes = [Node(self, region, index) for region in REGIONS for index in (1, 2)]
        for node in self.nodes:
            self.processes.append(node)
            node.start()
        self.in_sync(timeout=30)
        self.say(f"deployment: up, config version {self.config_version()}")

    def _regions(self):
        """Regions/ with two nodes per region on that region's loopback network, and short queue retries."""
        path = os.path.join(self.work, "Regions")
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "Regions"), path)
        addresses = [f"{NETWORK[r]}.{i}" for r in REGIONS for i in (1, 2)]
        self.smtp_port = free_port(addresses)
        self.control_port = free_port(addresses)
        self.probe_port = free_port(addresses)
        for region in REGIONS:
            file = os.path.join(path, f"{region}.yaml")
            text = open(file).read()
            nodes = "nodes:\n" + "".join(
                f"  - id: {region}-{i}\n    control_url: https://{NETWORK[region]}.{i}:{self.control_port}\n" for i in (1, 2))
            text = re.sub(r"nodes:\n(?:  .*\n|    .*\n)+", nodes, text)
            text = re.sub(r"retry_initial: .*", "retry_initial: 1s", text)
            text = re.sub(r"retry_maximum: .*", "retry_maximum: 2s", text)
            open(file, "w").write(text)
            mx = f"{region}.mx.{ZONE}"
            self.dns.records[mx] = {"A": [f"{NETWORK[region]}.{i}" for i in (1, 2)]}
        # The global MX for unpinned customers resolves to every node.
        self.dns.records[f"mx.{ZONE}"] = {"A": addresses}
        return path

    def _healthy(self, backend):
        """A replica's /healthz answers 200 within a second (it answers 503 while its database is away)."""
        return http("GET", f"http://{backend[0]}:{backend[1]}/healthz", timeout=1)[0] == 200

    def _replica_by_node_port(self, port):
        return next(r for r in self.replicas if r.node_port == port)

    def leader(self):
        """The replica that leads, as the replicas that answer agree; None while they do not."""
        seen = set()
        for replica in self.replicas:
            if not replica.running:
                continue
            try:
                status, body = http("GET", f"http://127.0.0.1:{replica.port}/v1/nodes", self.admin, timeout=2)
            except OSError:
                continue
            if status == 200:
                leader = body.get("leader")
                seen.add((leader["replica"], leader["term"]) if leader else None)
        if len(seen) != 1 or None in seen:
            return None
        name, term = seen.pop()
        return next(r for r in self.replicas if r.name == name), term

    def _customers(self):
        """One queued customer pinned to each region, and a sync customer in the EU; their DNS records go
        into the zone exactly as the coordinator asks for them, and its DNS check must find them."""
        customers = {}
        for key, region, mode in (("eu", "eu", "queued"), ("us", "us", "queued"), ("ap", "ap", "queued"),
                                  ("sync", "eu", "sync")):
            domain = f"{key}.fault.example"
            status, body = self.api("POST", "/v1/customers", {
                "name": f"Fault {key}", "contact_email": f"ops@{domain}", "region": region, "domains": [domain],
                "webhook": {"url": self.sink.url(f"/outage/{key}"), "mode": mode}})
            assert status == 201, body
            cid = body["customer"]["id"]
            status, dns = self.api("GET", f"/v1/customers/{cid}/dns")
            assert status == 200, dns
            for record in dns["records"]:
                self.dns.records.setdefault(record["name"], {}).setdefault(record["type"], []).append(record["value"])
            # The check finds the ownership record in the zone and proves the domain: only then is it routed.
            status, check = self.api("GET", f"/v1/customers/{cid}/dns/check")
            assert status == 200 and [(d["status"], d["proof"]) for d in check["domains"]] == [("verified", "verified")], check
            # A DPA: the customer hears of new sub-processors (the leader-kill scenario counts those notices).
            status, dpa = self.api("POST", f"/v1/customers/{cid}/dpa", {
                "version": "2026-05", "signed_on": "2026-05-01", "signatory": "Fault Suite", "document_sha256": "0" * 64})
            assert status == 201, dpa
            customers[key] = {"id": cid, "region": region, "domain": domain, "mode": mode}
        return customers

    # --- what the fault suite asks of it ---

    def api(self, method, path, body=None, timeout=20):
        return http(method, f"{self.coordinator_url}{path}", self.admin, body, timeout=timeout)

    def config_version(self):
        return self.api("GET", "/v1/nodes")[1]["config_version"]

    def in_sync(self, timeout=5.0):
        """Waits until every node reports the coordinator's newest config version; returns the seconds taken."""
        start = time.monotonic()

        def check():
            try:
                version = self.config_version()
            except OSError:
                return False
            return version is not None and all(node.config_version() == version for node in self.nodes)

        wait_for(check, timeout=timeout, interval=0.05, what="every node on the current config")
        return time.monotonic() - start

    def change_config(self, key="eu"):
        """A change every node's bundle carries: a customer's redactions flip. Returns the new version."""
        cid = self.customers[key]["id"]
        status, body = self.api("GET", f"/v1/customers/{cid}")
        redactions = [] if body["metadata_redactions"] else ["subject"]
        status, body = self.api("PATCH", f"/v1/customers/{cid}", {"metadata_redactions": redactions})
        assert status == 200, body
        return self.config_version()

    def pg_ctl(self, *args):
        binary = sorted(os.listdir("/usr/lib/postgresql"))[-1]
        command = [f"/usr/lib/postgresql/{binary}/bin/pg_ctl", "-D", os.path.join(self.pgdir, "data"), *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def stop_postgres(self):
        """A fast shutdown: PostgreSQL cuts every session, aborting their transactions."""
        opts = shlex.split(open(os.path.join(self.pgdir, "data", "postmaster.opts")).read())
        self._postgres_options = " ".join(shlex.quote(o) for o in opts[3:])  # after: postgres -D DIR
        self.pg_ctl("stop", "-m", "fast", "-w")

    def start_postgres(self):
        self.pg_ctl("start", "-w", "-l", os.path.join(self.pgdir, "server.log"), "-o", self._postgres_options)

    def describe(self):
        lines = [f"coordinator  {self.coordinator_url}  (admin token in {self.coordinator_data}/admin-token; node port {self.node_url})",
                 *[f"replica {r.name}   http://127.0.0.1:{r.port}  node port {r.node_port}  database via 127.0.0.1:{r.database_proxy.port}"
                   for r in self.replicas],
                 f"PostgreSQL   {self.database_url}", f"DNS          {self.dns.address} (zone {ZONE})",
                 f"smarthost    127.0.0.1:{self.smarthost.port}", f"webhooks     {self.sink.url('/outage/<customer>')}"]
        for node in self.nodes:
            lines.append(f"{node.id:<12} smtp {node.address}:{node.smtp_port}  control {node.control_url}")
        for key, c in self.customers.items():
            lines.append(f"customer     {c['domain']:<20} {c['id']}  {c['region']} {c['mode']}")
        return "\n".join(lines)

    def close(self):
        for process in reversed(self.processes):
            try:
                process.stop()
            except Exception:
                process.kill()
        for replica in getattr(self, "replicas", []):
            replica.database_proxy.close()
        for closer in ("sink", "smarthost", "dns", "api_balancer", "node_balancer"):
            if hasattr(self, closer):
                getattr(self, closer).close()
        if self.pgdir:
            subprocess.run([os.path.join(ROOT, "scripts", "postgres-throwaway"), "--stop", self.pgdir])
            self.pgdir = None


if __name__ == "__main__":
    import tempfile

    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="meridian-e2e.")
    deployment = Deployment(work)
    print(deployment.describe())
    print(f"logs in {work}; Ctrl-C stops everything")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        deployment.close()
