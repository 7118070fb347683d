"""Three coordinator replicas over one PostgreSQL (a real server the test starts): one leads, the others follow;
every replica sends the outbox, each notice claimed by one; `kill -9` of the leader while notices and a config
change flow hands the lead to another replica within 5 s, sends no notice twice, loses none, and the node, given two
replicas' node ports, pulls from the second once the first is gone and converges on the new leader's version."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from harness import MERIDIAN, REPLICA_KEY_FILES, ROOT, SMTPSink, TEST_EGRESS_FLAGS, RegionNode, WebhookSink, api, exit_report, first_admin, free_port, wait_for



@pytest.fixture
def postgres(tmp_path):
    pgdir = tmp_path / "pgdir"
    url = subprocess.run([os.path.join(ROOT, "scripts", "postgres-throwaway"), str(pgdir)], check=True, capture_output=True,
                         text=True).stdout.strip()
    yield url
    subprocess.run([os.path.join(ROOT, "scripts", "postgres-throwaway"), "--stop", pgdir.read_text().strip()])


class Replica:
    """`meridian coordinator --replica NAME` on the shared database."""

    def __init__(self, work, name, database, smarthost):
        self.name, self.work = name, work
        self.data = os.path.join(work, name)
        self.port, self.node_port = free_port(), free_port()
        self.log_path = os.path.join(work, f"{name}.log")
        self.process = subprocess.Popen(
            [MERIDIAN, "coordinator", "--database", database, "--data-dir", self.data, "--port", str(self.port),
             "--node-port", str(self.node_port), "--replica", name, "--smarthost", f"127.0.0.1:{smarthost.port}",
             *TEST_EGRESS_FLAGS],
            cwd=ROOT, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)

    def api(self, method, path, token, body=None):
        return api(self.port, method, path, token, body)

    def leader(self, token):
        """The leader as this replica sees it: (replica, term), or None."""
        status, body = self.api("GET", "/v1/nodes", token)
        assert status == 200, body
        assert body["replica"] == self.name
        leader = body.get("leader")
        return (leader["replica"], leader["term"]) if leader else None

    def answers(self, token):
        if self.process.poll() is not None:
            raise AssertionError(f"replica {self.name} exited with {self.process.returncode}:\n{exit_report(open(self.log_path).read())}")
        try:
            return self.api("GET", "/v1/whoami", token)[0] == 200
        except OSError:
            return False

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            finally:
                if self.process.poll() is None:
                    self.process.kill()


def subprocessor(name):
    return {"name": name, "legal_entity": f"{name} Ltd", "purpose": "Content analysis", "data_categories": ["message text"],
            "regions": ["eu"], "locations": ["Ireland"], "transfer_mechanism": "none needed", "dpa_in_place": True,
            "egress_hosts": [f"{name.lower().replace(' ', '-')}.example"], "steps": ["content_analysis"]}


def message_ids(smtp):
    ids = []
    for mail in list(smtp.messages):
        found = re.search(rb"^Message-ID: (<[^>]+>)", mail["data"], re.M)
        assert found, mail["data"][:500]
        ids.append(found.group(1).decode())
    return ids


def test_three_replicas_one_leader_notices_once_and_a_dead_leader_replaced(tmp_path, postgres):
    work = str(tmp_path)
    smtp, sink = SMTPSink(), WebhookSink()
    replicas, nodes = [], []
    try:
        # The first replica makes the keys; the others get copies, as an operator gives each replica the same keys.
        first = Replica(work, "r1", postgres, smtp)
        replicas.append(first)
        admin = first_admin(first.data, first.port)
        for name in ("r2", "r3"):
            os.makedirs(os.path.join(work, name))
            for file in REPLICA_KEY_FILES:
                shutil.copy2(os.path.join(first.data, file), os.path.join(work, name, file))
            replicas.append(Replica(work, name, postgres, smtp))
        r1, r2, r3 = replicas
        for replica in replicas:
            wait_for(lambda: replica.answers(admin), timeout=30, what=f"replica {replica.name}")
        # Every replica sees the same single leader: the first, which started alone.
        wait_for(lambda: all(r.leader(admin) == r1.leader(admin) for r in replicas) and r1.leader(admin)[0] == "r1",
                 what="one leader seen by all")
        term = r1.leader(admin)[1]

        # A node enrolled through a follower and given two replicas' node ports, r1's first; the leader pushes to it.
        coordinator = type("Via", (), {"node_port": r1.node_port})()
        node = RegionNode(work, "eu", coordinator, admin, r2.port, extra=("--coordinator", f"https://127.0.0.1:{r3.node_port}"))
        nodes.append(node)
        wait_for(lambda: node.status()["coordinator"] == f"https://127.0.0.1:{r1.node_port}", timeout=15, what="the node pulling from r1")

        customers = []
        for index in range(5):
            status, created = r3.api("POST", "/v1/customers", admin, {
                "name": f"Replica {index}", "contact_email": f"legal@r{index}.example", "domains": [f"r{index}.example"],
                "webhook": {"url": sink.url(f"/c{index}"), "mode": "queued"}})
            assert status == 201, created
            cid = created["customer"]["id"]
            status, dpa = r2.api("POST", f"/v1/customers/{cid}/dpa", admin, {
                "version": "2026-05", "signed_on": "2026-05-01", "signatory": "Jane Roe", "document_sha256": "0" * 64})
            assert status == 201, dpa
            customers.append(cid)
        # A change made through a follower reaches the node: the follower rang the leader.
        wait_for(lambda: node.status()["config_version"] == r2.api("GET", "/v1/nodes", admin)[1]["config_version"], timeout=15,
                 what="the node on the newest version")

        def outbox():
            status, body = r2.api("GET", "/v1/notifications", admin)
            assert status == 200, body
            return body["items"]

        # Notices with every replica running: each sent exactly once, counted at the SMTP sink and the webhook sink.
        for name in ("Alpha Analysis", "Beta Analysis"):
            assert r2.api("POST", "/v1/subprocessors", admin, subprocessor(name))[0] == 201
        wait_for(lambda: len(outbox()) == 20 and all(n["status"] == "sent" for n in outbox()), timeout=60, what="20 notices sent")
        ids = message_ids(smtp)
        assert len(ids) == 10 and len(set(ids)) == 10, ids
        events = [post["headers"].get("webhook-id") for c in range(5) for post in sink.posts(f"/c{c}")]
        assert len(events) == 10 and len(set(events)) == 10, events

        # A token revoked through one replica is refused at once by another that has it cached: within 2 s on a busy
        # machine (the notice takes milliseconds), where the cache alone would take up to its 10 s lifetime.
        status, token = r1.api("POST", "/v1/tokens", admin, {"name": "replica cache", "role": "auditor"})
        assert status == 201, token
        for _ in range(3):
            assert r2.api("GET", "/v1/whoami", token["secret"])[0] == 200
        status, revoked = r3.api("DELETE", f"/v1/tokens/{token['token']['id']}", admin)
        assert status in (200, 204), revoked
        revoked_at = time.monotonic()
        wait_for(lambda: r2.api("GET", "/v1/whoami", token["secret"])[0] == 401, timeout=5, interval=0.02, what="the revoked token refused by r2")
        assert time.monotonic() - revoked_at < 2.0, f"r2 took {time.monotonic() - revoked_at:.2f} s to refuse the revoked token"

        # The same for a customer's record and the registry, which each replica keeps for 10 s: a change through one
        # replica is what another answers next, though it had read both just before.
        for _ in range(3):
            assert r2.api("GET", f"/v1/customers/{customers[0]}", admin)[0] == 200
            assert r3.api("GET", "/v1/subprocessors", admin)[0] == 200
        status, renamed = r1.api("PATCH", f"/v1/customers/{customers[0]}", admin, {"name": "Renamed through r1"})
        assert status == 200, renamed
        alpha = next(e["id"] for e in r2.api("GET", "/v1/subprocessors", admin)[1]["items"] if e["name"] == "Alpha Analysis")
        status, updated = r2.api("PATCH", f"/v1/subprocessors/{alpha}", admin, {"name": "Alpha Analysis Ltd"})
        assert status == 200, updated
        changed_at = time.monotonic()
        wait_for(lambda: r2.api("GET", f"/v1/customers/{customers[0]}", admin)[1]["name"] == "Renamed through r1", timeout=5, interval=0.02,
                 what="r2 answering the renamed customer")
        wait_for(lambda: "Alpha Analysis Ltd" in [e["name"] for e in r3.api("GET", "/v1/subprocessors", admin)[1]["items"]], timeout=5,
                 interval=0.02, what="r3 listing the renamed sub-processor")
        assert time.monotonic() - changed_at < 2.0, f"the replicas took {time.monotonic() - changed_at:.2f} s to answer the changes"

        # kill -9 of the leader while three more announcements' notices and a config change flow.
        for name in ("Gamma Analysis", "Delta Analysis", "Epsilon Analysis"):
            assert r3.api("POST", "/v1/subprocessors", admin, subprocessor(name))[0] == 201
        # As soon as the first of their e-mails arrives: the replicas are sending.
        wait_for(lambda: len(smtp.messages) > 10, timeout=30, interval=0.01, what="the first notice of the second batch")
        r1.process.kill()
        killed = time.monotonic()
        r1.process.wait(timeout=10)
        status, body = r3.api("PATCH", f"/v1/customers/{customers[0]}", admin, {"metadata_redactions": ["subject"]})
        assert status == 200, body

        def new_leader():
            seen = {r.leader(admin) for r in (r2, r3)}
            return len(seen) == 1 and (leader := seen.pop()) is not None and leader[0] in ("r2", "r3") and leader[1] > term
        wait_for(new_leader, timeout=10, interval=0.1, what="another replica leading")
        took = time.monotonic() - killed
        assert took <= 5.0, f"a new leader after {took:.1f} s"

        # Every notice is sent; one the dead leader had claimed is free 10 s after its last sign of life (WorkClaim).
        wait_for(lambda: len(outbox()) == 50 and all(n["status"] == "sent" for n in outbox()), timeout=60, what="50 notices sent")
        ids = message_ids(smtp)
        print(f"replicas: new leader after {took:.2f} s; {len(ids)} e-mails for 25 notices, {len(ids) - len(set(ids))} repeated")
        assert len(set(ids)) == 25
        # A notice is repeated only if the leader died between the smarthost's 250 and recording it: at most the one
        # it held, and with the same Message-ID, so a receiver can tell.
        assert len(ids) - len(set(ids)) <= 1, ids

        # The node's pulls go on to r3, the next replica it was given, within a few pulls of r1's death.
        wait_for(lambda: node.status()["coordinator"] == f"https://127.0.0.1:{r3.node_port}", timeout=15,
                 what="the node pulling from r3 once r1 is gone")

        # The node converges on what the new leader published (the redaction change included).
        def converged():
            version = r2.api("GET", "/v1/nodes", admin)[1]["config_version"]
            return version is not None and node.status()["config_version"] == version
        wait_for(converged, timeout=15, what="the node on the new leader's version")
    finally:
        for node in nodes:
            node.stop()
        for replica in replicas:
            replica.stop()
        smtp.close()
        sink.close()


@pytest.mark.parametrize("flags, named", [
    (["--replica", "coord a"], "--replica coord a"),
    (["--replica", "x" * 101], "--replica " + "x" * 101),
    (["--leader-lease-seconds", "0"], "--leader-lease-seconds 0"),
    (["--leader-lease-seconds", "61"], "--leader-lease-seconds 61"),
])
def test_bad_replica_flags_are_refused_naming_the_value(tmp_path, flags, named):
    done = subprocess.run([MERIDIAN, "coordinator", "--database", f"sqlite:{tmp_path}/c.sqlite", "--data-dir", str(tmp_path), *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and named in done.stderr, done.stderr
    assert not os.path.exists(tmp_path / "c.sqlite")
