"""The fault suite: one loopback deployment (deployment.py), mail sent the way MTAs send it (load.py), and one
fault after another while it flows. Each scenario prints what happened to its mail:

    sent        messages the senders tried to deliver
    250         messages that got a 250 from some node
    delivered   messages that reached the customer's webhook (a 2xx from the sink)
    dup         deliveries beyond the first (at-least-once: a redelivery keeps its webhook-id)
    lost        messages that got a 250 and never reached the webhook: must be 0

and what must also hold: no 5xx from the coordinator's API at any time, and no request to it left without an
answer for 30 s (an API watcher reads and writes all through the suite), and every node back on the
coordinator's newest config within 5 s of each recovery.

Usage: faults.py [--work DIR] [--only NAME ...]   (scripts/e2e runs it; CI runs scripts/e2e)
Exit status 0 when everything held, 1 otherwise."""

import argparse
import asyncio
import base64
import json
import os
import random
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPException

sys.path.insert(0, os.path.dirname(__file__))
from deployment import Deployment, http, wait_for  # noqa: E402
from load import Ledger, Resolver, can_bind, deliveries, free_source_addresses, read_reply, run, transaction, message  # noqa: E402

SYNC_LIMIT = 5.0  # seconds from a recovery to every node on the current config


class APIWatch(threading.Thread):
    """Reads three endpoints and writes one (a token created, then revoked) in a loop, all through the suite,
    and files every answer under the scenario running at the time. A refused connection (the coordinator is
    down) is counted apart: it is not an answer. A request left 30 s without an answer is a failure, as a 5xx is."""

    def __init__(self, deployment):
        super().__init__(daemon=True)
        self.deployment = deployment
        self.scenario = "setup"
        self.counts = {}
        self.errors = []
        self.slow = []
        self.stopping = threading.Event()
        # The replica cut off from PostgreSQL in the scenario running, if any: its 503 store-unavailable answers,
        # given before the load balancer's health check takes it out, are the right answer and counted apart.
        self.tolerate_unavailable = None

    def count(self, kind):
        bucket = self.counts.setdefault(self.scenario, {})
        bucket[kind] = bucket.get(kind, 0) + 1

    def call(self, method, path, body=None):
        started = time.monotonic()
        try:
            status, answer = self.deployment.api(method, path, body, timeout=30)
        except TimeoutError:
            self.count("unanswered")
            self.errors.append(f"{self.scenario}: {method} {path} had no answer within 30 s")
            return None
        except (OSError, HTTPException) as error:  # refused, or cut off by a kill -9
            self.count("down")
            if time.monotonic() - started > 5:
                self.slow.append(f"{self.scenario}: {method} {path} gave up after {time.monotonic() - started:.0f} s ({error})")
            return None
        if time.monotonic() - started > 5:
            self.slow.append(f"{self.scenario}: {method} {path} took {time.monotonic() - started:.0f} s")
        if status == 503 and self.tolerate_unavailable and isinstance(answer, dict) and "store-unavailable" in str(answer.get("type", "")):
            self.count("503 cut off")
            return None
        self.count(f"{status // 100}xx")
        if status >= 500:
            self.errors.append(f"{self.scenario}: {method} {path} -> {status} {answer}")
        return answer if status < 300 else None

    def run(self):
        turn = 0
        while not self.stopping.is_set():
            for path in ("/v1/nodes", "/v1/customers?limit=10", "/v1/gdpr-requests"):
                self.call("GET", path)
            if turn % 5 == 0:
                created = self.call("POST", "/v1/tokens", {"name": "fault-suite watcher", "role": "auditor"})
                token_id = created and (created.get("token") or created).get("id")
                if token_id:
                    self.call("DELETE", f"/v1/tokens/{token_id}")
            turn += 1
            time.sleep(0.2)

    def hammer(self, stop):
        """Reads as fast as answers come, so that some are in flight when the database goes."""
        while not stop.is_set():
            self.call("GET", "/v1/customers?limit=10")
            self.call("GET", "/v1/nodes")

    def failures(self, scenario):
        """5xx answers and requests left without an answer."""
        counts = self.counts.get(scenario, {})
        return counts.get("5xx", 0) + counts.get("unanswered", 0)


class Suite:
    def __init__(self, deployment, log=print):
        self.d = deployment
        self.say = log
        self.resolver = Resolver(deployment.dns.address)
        self.port = deployment.smtp_port
        self.rows = []
        self.failures = []
        self.watch = APIWatch(deployment)
        self.watch.start()
        self.rng = random.Random(int(os.environ.get("MERIDIAN_FAULT_SEED", "9")))
        status, created = deployment.api("POST", "/v1/tokens", {"name": "fault-suite dpo", "role": "dpo"})
        assert status == 201, created
        self.dpo = created["secret"]
        # A bundle every node once held, kept to replay later (the bad-bundle scenario).
        self.first_bundle = self.signed_bundle(deployment.nodes[2])

    def recipients(self, *keys, per=20):
        return [f"user{n}@{self.d.customers[k]['domain']}" for n in range(per) for k in keys]

    def load(self, ledger, prefix, keys=("eu", "us", "ap", "sync"), concurrency=16):
        """Mail that flows until the returned stop event is set; await the task for it to finish."""
        stop = asyncio.Event()
        task = asyncio.create_task(run(ledger, self.resolver, self.port, self.recipients(*keys), count=None,
                                       concurrency=concurrency, prefix=prefix, stop=stop))
        self.loads.append((task, stop))
        return task, stop

    async def finish(self, load, seconds=2.0):
        task, stop = load
        await asyncio.sleep(seconds)
        stop.set()
        await task

    def signed_bundle(self, node):
        """A signed snapshot `node` holds: the one its last-known-good config starts from (kept bare, or in an
        update with the deltas after it)."""
        kept = json.load(open(os.path.join(node.data, "bundle.last-good.json")))
        return kept["snapshot"] if "deltas" in kept else kept

    def sync_within(self, what, limit=SYNC_LIMIT):
        """Seconds until every node is on the current config; a failure when it takes over `limit`."""
        try:
            return self.d.in_sync(timeout=limit)
        except AssertionError:
            self.fail(what, f"not every node was on config version {self.d.config_version()} within {limit:.0f} s of recovery")
            return float("inf")

    def fail(self, scenario, reason):
        self.failures.append(f"{scenario}: {reason}")
        self.say(f"  FAILED: {reason}")

    async def settle(self, ledger, prefix, timeout=90.0):
        """Waits until everything that got 250 reached the webhook, or the timeout; returns the deliveries."""
        deadline = time.monotonic() + timeout
        while True:
            found = deliveries(self.d.sink, prefix)
            if ledger.accepted <= found.keys() or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.5)

    async def scenario(self, name, prefix, body):
        self.say(f"fault: {name}")
        self.watch.scenario = name
        ledger = Ledger(name)
        started = time.monotonic()
        syncs, notes = [], []
        self.loads = []
        try:
            await body(ledger, syncs, notes)
        except (AssertionError, OSError, asyncio.TimeoutError) as error:
            self.fail(name, f"{type(error).__name__}: {error}" if not isinstance(error, AssertionError) else str(error))
        finally:
            for task, stop in self.loads:  # a scenario that failed half-way leaves no mail flowing into the next
                stop.set()
                await task
        found = await self.settle(ledger, prefix)
        lost = ledger.accepted - found.keys()
        duplicates = sum(len(ids) - 1 for ids in found.values())
        if lost:
            self.fail(name, f"{len(lost)} messages got 250 and were not delivered: {sorted(lost)[:5]}")
        if self.watch.failures(name):
            self.fail(name, f"{self.watch.failures(name)} API requests got a 5xx or no answer: {self.watch.errors[-3:]}")
        api = self.watch.counts.get(name, {})
        row = {
            "scenario": name, "sent": len(ledger.sent), "250": len(ledger.accepted), "delivered": len(found.keys() & ledger.sent),
            "dup": duplicates, "lost": len(lost), "api": f"{api.get('2xx', 0)} ok, {api.get('5xx', 0)} 5xx"
            + (f", {api['down']} refused" if api.get("down") else "") + (f", {api['unanswered']} unanswered" if api.get("unanswered") else ""),
            "sync": f"{max(syncs):.2f} s" if syncs else "-", "seconds": time.monotonic() - started, "notes": notes,
        }
        self.rows.append(row)
        self.say(f"  sent {row['sent']}, 250 {row['250']}, delivered {row['delivered']}, dup {row['dup']}, lost {row['lost']}; "
                 f"API {row['api']}; config back in {row['sync']}" + "".join(f"\n  {n}" for n in notes))

    # --- the scenarios ---

    async def kill9(self, ledger, syncs, notes):
        """kill -9 of a random node every couple of seconds while mail flows to all regions, a config change
        made while one is dead; each is started again on its own data."""
        load = self.load(ledger, "kill9", concurrency=24)
        kills = []
        while len(kills) < 5:
            await asyncio.sleep(1.0)
            node = self.rng.choice(self.d.nodes)
            await asyncio.to_thread(node.kill)
            kills.append(node.id)
            if len(kills) == 2:
                await asyncio.to_thread(self.d.change_config)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(node.start)
            syncs.append(await asyncio.to_thread(self.sync_within, "kill -9"))
        await self.finish(load)
        notes.append(f"killed {', '.join(kills)}; senders moved to the other MX {ledger.failovers} times")

    async def webhook_outage(self, ledger, syncs, notes):
        """Every webhook answers 503 for 8 s: queued customers' mail waits on disk, the sync customer's senders
        get 451 and retry; all of it arrives once the endpoints recover."""
        load = self.load(ledger, "outage")
        await asyncio.sleep(1.0)
        self.d.sink.outage.set()
        await asyncio.sleep(8.0)
        self.d.sink.outage.clear()
        recovered = time.monotonic()
        await self.finish(load)
        found = await self.settle(ledger, "outage")
        if ledger.accepted <= found.keys():
            last = max(p["at"] for p in self.d.sink.posts() if p.get("status") == 200)
            notes.append(f"the queue drained {max(0.0, last - recovered):.1f} s after the endpoints recovered")
        notes.append(f"451 answers to the sync customer's senders during the outage: {ledger.replies.get(451, 0)}")
        if not ledger.replies.get(451):
            raise AssertionError("the sync customer's senders never got 451 while the webhook was down")

    def announce(self, name):
        """A new sub-processor: every customer has a DPA, so each gets a notice by e-mail and one by webhook."""
        status, body = self.d.api("POST", "/v1/subprocessors", {
            "name": name, "legal_entity": f"{name} Ltd", "purpose": "Content analysis", "data_categories": ["message text"],
            "regions": ["eu"], "locations": ["Ireland"], "transfer_mechanism": "none needed", "dpa_in_place": True,
            "egress_hosts": [f"{name.lower().replace(' ', '-')}.example"], "steps": ["content_analysis"]})
        assert status == 201, body

    def notice_mails(self):
        """Message-IDs of the sub-processor notices the smarthost took, repeats included."""
        found = []
        for mail in list(self.d.smarthost.messages):
            if b"Subject: New sub-processor: " in mail["data"]:
                found.append(re.search(rb"^Message-ID: (<[^>]+>)", mail["data"], re.M).group(1))
        return found

    def access_request(self):
        """A data-subject access request carried out in every region: its directive goes to all six nodes."""
        status, created = self.d.api("POST", "/v1/gdpr-requests", {"type": "access", "regulation": "gdpr", "subject": {"email": "subject@example.org"}})
        assert status == 201, created
        status, body = http("POST", f"{self.d.coordinator_url}/v1/gdpr-requests/{created['id']}/verify", self.dpo,
                            {"method": "document", "reason": "fault suite"})
        assert status == 200, body
        status, body = self.d.api("PATCH", f"/v1/gdpr-requests/{created['id']}", {"state": "in_progress"})
        assert status == 200, body
        return created["id"]

    async def leader_kill(self, ledger, syncs, notes):
        """kill -9 of the leading replica while mail, notices, a data-subject directive and config changes flow:
        another replica leads within 5 s, every node converges on its versions, every notice is sent (once, bar
        one the dead leader may have sent without recording it) and the directive completes; the killed replica
        comes back as a follower."""
        load = self.load(ledger, "leader")
        leader, term = await asyncio.to_thread(lambda: wait_for(self.d.leader, timeout=10, what="a leader"))
        notices_before = len(set(self.notice_mails()))
        for index in range(3):
            await asyncio.to_thread(self.announce, f"Kill Analysis {self.rng.randrange(10**6)}-{index}")
        ticket = await asyncio.to_thread(self.access_request)
        await asyncio.to_thread(self.d.change_config)
        # As soon as the first of the new notices reaches the smarthost: the replicas are sending.
        await asyncio.to_thread(lambda: wait_for(lambda: len(set(self.notice_mails())) > notices_before, timeout=30, interval=0.01,
                                                 what="the first new notice"))
        await asyncio.to_thread(leader.kill)
        killed = time.monotonic()
        await asyncio.to_thread(self.d.change_config)
        new, new_term = await asyncio.to_thread(
            lambda: wait_for(lambda: (found := self.d.leader()) and found[0] is not leader and found, timeout=15, interval=0.05,
                             what="another replica leading"))
        took = time.monotonic() - killed
        notes.append(f"{leader.name} killed (term {term}); {new.name} led {took:.2f} s later (term {new_term})")
        if took > 5.0:
            raise AssertionError(f"no other replica led within 5 s of the leader's kill -9 ({took:.1f} s)")
        syncs.append(await asyncio.to_thread(self.sync_within, "leader kill -9"))
        await asyncio.to_thread(leader.start)

        def unsent():
            status, body = self.d.api("GET", "/v1/notifications")
            assert status == 200, body
            return [(n["channel"], n["status"], n.get("last_error")) for n in body["items"] if n["status"] != "sent"]
        # A notice the dead leader had claimed goes to another replica 10 s after its last sign of life.
        deadline = time.monotonic() + 60
        while (left := await asyncio.to_thread(unsent)) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        if left:
            raise AssertionError(f"{len(left)} notices not sent 60 s on: {left[:5]}")
        due = len(self.d.customers) * 3
        mails = self.notice_mails()
        new_mails = len(mails) - notices_before
        distinct = len(set(mails)) - notices_before
        notes.append(f"notices: {due} due by e-mail, {distinct} sent, {new_mails - distinct} sent twice")
        if distinct != due or new_mails - distinct > 1:
            raise AssertionError(f"{due} notices due, {distinct} distinct e-mails, {new_mails - distinct} repeats")

        def ticket_state():
            status, body = self.d.api("GET", f"/v1/gdpr-requests/{ticket}")
            assert status == 200, body
            return body
        deadline = time.monotonic() + 60
        while (body := await asyncio.to_thread(ticket_state))["state"] != "completed" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        if body["state"] != "completed":
            raise AssertionError(f"the access request is {body['state']} 60 s on: {body.get('progress')}")
        notes.append(f"the access request's directive reached all six nodes; completed {time.monotonic() - killed:.1f} s after the kill")
        follower = await asyncio.to_thread(lambda: wait_for(self.d.leader, timeout=10, what="a leader"))
        if follower[0] is leader:
            raise AssertionError(f"{leader.name} leads again after its restart; it should follow {new.name}")
        await self.finish(load)

    async def leader_cut_off(self, ledger, syncs, notes):
        """The leading replica loses PostgreSQL (its connection proxy cut): it stops leading by its own clock
        within its lease, another replica leads, a change reaches every node; reconnected, it follows."""
        load = self.load(ledger, "cutoff")
        leader, term = await asyncio.to_thread(lambda: wait_for(self.d.leader, timeout=10, what="a leader"))
        self.watch.tolerate_unavailable = leader.name
        log_before = os.path.getsize(leader.log_path)
        leader.database_proxy.cut()
        cut = time.monotonic()

        def stepped_down():
            with open(leader.log_path, errors="replace") as log:
                log.seek(log_before)
                return f"leadership: {leader.name} no longer leads" in log.read()
        await asyncio.to_thread(lambda: wait_for(stepped_down, timeout=10, interval=0.05, what=f"{leader.name} to stop leading"))
        stopped = time.monotonic() - cut
        others = [r for r in self.d.replicas if r is not leader]

        def other_leads():
            for replica in others:
                try:
                    status, body = http("GET", f"http://127.0.0.1:{replica.port}/v1/nodes", self.d.admin, timeout=2)
                except OSError:
                    continue
                if status == 200 and body.get("leader") and body["leader"]["replica"] != leader.name:
                    return body["leader"]
            return None
        new = await asyncio.to_thread(lambda: wait_for(other_leads, timeout=15, interval=0.05, what="another replica leading"))
        took = time.monotonic() - cut
        notes.append(f"{leader.name} cut off: it stopped leading after {stopped:.2f} s, {new['replica']} led after {took:.2f} s")
        if took > 5.0:
            raise AssertionError(f"no other replica led within 5 s of the leader losing PostgreSQL ({took:.1f} s)")
        await asyncio.to_thread(self.d.change_config)
        syncs.append(await asyncio.to_thread(self.sync_within, "leader cut off"))
        leader.database_proxy.restore()
        await asyncio.sleep(2.0)
        back = await asyncio.to_thread(lambda: wait_for(self.d.leader, timeout=15, what="the replicas agreeing on a leader"))
        if back[0] is leader:
            raise AssertionError(f"{leader.name} leads again once reconnected; it should follow")
        unavailable = self.watch.counts.get("leader cut off from PostgreSQL", {}).get("503 cut off", 0)
        notes.append(f"{unavailable} API requests reached {leader.name} before the balancer's health check took it out and got 503 store-unavailable")
        self.watch.tolerate_unavailable = None
        await self.finish(load)

    async def postgres_restart(self, ledger, syncs, notes):
        """PostgreSQL restarted (fast shutdown: sessions are cut) mid-traffic and mid-API-use, with a config
        change made while it is down."""
        load = self.load(ledger, "postgres")
        stop_hammering = threading.Event()
        hammers = [threading.Thread(target=self.watch.hammer, args=(stop_hammering,), daemon=True) for _ in range(4)]
        for hammer in hammers:
            hammer.start()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(self.d.stop_postgres)
        change = asyncio.create_task(asyncio.to_thread(self.d.change_config))
        await asyncio.sleep(3.0)
        await asyncio.to_thread(self.d.start_postgres)
        await change
        syncs.append(await asyncio.to_thread(self.sync_within, "PostgreSQL restart"))
        await self.finish(load)
        stop_hammering.set()
        for hammer in hammers:
            hammer.join()
        notes.append("the change made while PostgreSQL was down waited for it and went through")

    async def full_spool(self, ledger, syncs, notes):
        """eu-2's spool on a 4 MB tmpfs while the webhooks are down, so nothing leaves it: it fills, answers
        452 and never 250 for what it cannot keep; senders move to eu-1. Then the webhooks recover and the
        spool drains."""
        node = next(n for n in self.d.nodes if n.id == "eu-2")
        spool = os.path.join(self.d.work, "eu-2-small-spool")
        os.makedirs(spool, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", spool], capture_output=True)
        if mounted.returncode != 0:
            notes.append("skipped: mounting a tmpfs needs root (CI runs as root)")
            return
        try:
            await asyncio.to_thread(node.stop)
            await asyncio.to_thread(node.start, None, ["--spool", spool])
            syncs.append(await asyncio.to_thread(self.sync_within, "full spool"))
            self.d.sink.outage.set()
            rcpt = self.recipients("eu")[0]
            codes = []
            for index in range(60):  # straight at eu-2 until it is full
                fault_id = f"spool-{index:05d}"
                ledger.sent.add(fault_id)
                code, text = await transaction(node.address, self.port, "load@sender.example", rcpt,
                                               message(fault_id, rcpt, size=200_000))
                ledger.reply(code)
                codes.append(code)
                if code == 250:
                    ledger.accepted.add(fault_id)
                elif code == 452 and "4.3.1" in text:
                    break
                else:
                    raise AssertionError(f"eu-2 answered {code} {text} instead of 250 or 452 4.3.1")
            if 452 not in codes:
                raise AssertionError("eu-2's spool never filled")
            notes.append(f"eu-2 took {codes.count(250)} messages of 200 KB, then answered 452 4.3.1")
            # Mail through DNS: what lands on the full eu-2 moves on to eu-1.
            await run(ledger, self.resolver, self.port, self.recipients("eu"), count=60, concurrency=6,
                      prefix="spool-mx", size=50_000)
            notes.append(f"then 60 messages through the MX: {ledger.replies.get(452, 0)} answers 452 in all, "
                         f"{ledger.failovers} moves to the other MX")
            self.d.sink.outage.clear()
            await self.settle(ledger, "spool")
            fault_id = "spool-after"
            ledger.sent.add(fault_id)
            code, _ = await transaction(node.address, self.port, "load@sender.example", rcpt, message(fault_id, rcpt))
            if code != 250:
                raise AssertionError(f"eu-2 answered {code} after its spool drained")
            ledger.accepted.add(fault_id)
            await self.settle(ledger, "spool")
        finally:
            self.d.sink.outage.clear()
            await asyncio.to_thread(node.stop)
            subprocess.run(["umount", spool], capture_output=True)
            await asyncio.to_thread(node.start, None, [])
            syncs.append(await asyncio.to_thread(self.sync_within, "full spool"))

    async def bad_bundle(self, ledger, syncs, notes):
        """Bundles that must be refused while mail flows to us-1: a push without the coordinator's certificate, or
        in plain HTTP, does not get past the handshake; and written to its bundle file, a tampered payload, a
        forged higher version, an old bundle replayed and bytes that are not a bundle are each NACKed."""
        node = next(n for n in self.d.nodes if n.id == "us-1")
        await asyncio.to_thread(self.d.change_config, "us")  # so the bundle kept at the start is now an old one
        await asyncio.to_thread(self.sync_within, "bad bundle")
        load = self.load(ledger, "bundle", keys=("us",), concurrency=8)
        current = await asyncio.to_thread(self.signed_bundle, node)
        version = json.loads(base64.b64decode(current["payload"]))["version"]
        tampered = dict(current)
        payload = json.loads(base64.b64decode(current["payload"]))
        for customer in payload["customers"]:
            customer["webhook"]["url"] = "http://attacker.example/steal"
        tampered["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
        forged = dict(current)
        payload["version"] = version + 1000
        forged["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
        anonymous = ssl.create_default_context()
        anonymous.check_hostname, anonymous.verify_mode = False, ssl.CERT_NONE
        for what, url, context in (("a push without the coordinator's certificate", node.control_url, anonymous),
                                   ("a push in plain HTTP", node.control_url.replace("https:", "http:"), None)):
            try:
                status, answer = http("PUT", f"{url}/v1/bundle", body=json.dumps(tampered).encode(), context=context, timeout=5)
            except (OSError, HTTPException):
                notes.append(f"{what}: refused in the handshake")
                continue
            raise AssertionError(f"{what} was answered {status} {answer}")
        path = os.path.join(node.data, "bundle.json")
        try:
            for what, body in (("tampered", tampered), ("forged version", forged), ("replayed old", self.first_bundle),
                               ("not a bundle", b"\x00\x01 not json")):
                before = node.nacks()
                with open(path + ".tmp", "wb") as f:
                    f.write(body if isinstance(body, bytes) else json.dumps(body).encode())
                os.replace(path + ".tmp", path)
                deadline = time.monotonic() + 10
                while node.nacks() <= before:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"the {what} bundle was not refused within 10 s")
                    await asyncio.sleep(0.1)
                notes.append(f"{what}: NACK")
        finally:
            if os.path.exists(path):
                os.remove(path)
        # The coordinator may publish a version of its own meanwhile (two CI runs saw 12 where the test read 11);
        # what must hold is that us-1 is on what the coordinator signed, never on a refused bundle's version.
        await asyncio.to_thread(self.sync_within, "bad bundle")
        if node.config_version() < version or node.config_version() >= version + 1000:
            raise AssertionError(f"us-1 is on version {node.config_version()} after the refusals (the coordinator's is {version} or later)")
        await self.finish(load)
        attacker = [p for p in self.d.sink.posts() if "attacker" in p["path"]]
        if attacker:
            raise AssertionError("mail went to the tampered webhook")
        await asyncio.to_thread(self.d.change_config)
        syncs.append(await asyncio.to_thread(self.sync_within, "bad bundle"))

    async def clock_skew(self, ledger, syncs, notes):
        """us-1's clock runs 2 minutes ahead of the coordinator's and us-2's 4 minutes ahead (libfaketime): config
        still applies, mail is accepted and delivered, and each node's clock shows in its webhook timestamps and in
        its own measure against the coordinator's (`clock_skew_seconds` in /v1/status).

        Only clocks ahead: under libfaketime, a clock set back stalls Swift's timers (libdispatch; 92 of 200
        messages never tried in 90 s when we did), so a node behind cannot be faked this way. Config does not
        depend on the wall clock (bundles are ordered by version); a node's clock shows in its webhook
        timestamps and decides whether a data-subject directive's 15-minute lifetime is over."""
        nodes = [n for n in self.d.nodes if n.region == "us"]
        if shutil.which("faketime") is None:
            raise AssertionError("faketime is not installed (scripts/setup installs it)")
        try:
            for node, offset in zip(nodes, ("+120", "+240")):
                await asyncio.to_thread(node.stop)
                node.env = dict(node.env, FAKETIME_DONT_FAKE_MONOTONIC="1")  # timers keep running at the real pace
                await asyncio.to_thread(node.start, ["faketime", "-f", offset])
            await asyncio.to_thread(self.d.change_config)
            syncs.append(await asyncio.to_thread(self.sync_within, "clock skew"))
            # Each node measures its clock against the coordinator's at every pull (the Date header).
            measured = [node.status().get("clock_skew_seconds") for node in nodes]
            notes.append(f"clock_skew_seconds in /v1/status: {measured[0]} and {measured[1]}")
            if any(value is None or abs(value - expected) > 3 for value, expected in zip(measured, (120, 240))):
                raise AssertionError(f"the nodes measured their skew as {measured}, not about +120 and +240 s")
            await run(ledger, self.resolver, self.port, self.recipients("us"), count=200, concurrency=8, prefix="skew")
            await self.settle(ledger, "skew")
            offsets = [int(p["headers"]["webhook-timestamp"]) - (time.time() - (time.monotonic() - p["at"]))
                       for p in self.d.sink.posts() if p.get("status") == 200 and (p.get("fault_id") or "").startswith("skew-")]
            if offsets:
                notes.append(f"webhook-timestamp minus the sink's clock: {min(offsets):+.0f} s to {max(offsets):+.0f} s "
                             "(a receiver that checks the timestamp within 5 minutes still takes them)")
            if not offsets or min(offsets) < 100 or max(offsets) < 220:
                raise AssertionError("the skewed clocks did not both show in the webhook timestamps")
        finally:
            for node in nodes:
                await asyncio.to_thread(node.stop)
                node.env.pop("FAKETIME_DONT_FAKE_MONOTONIC", None)
                await asyncio.to_thread(node.start, [])
            syncs.append(await asyncio.to_thread(self.sync_within, "clock skew"))

    async def slowloris(self, ledger, syncs, notes):
        """240 connections to eu-1 from four client addresses, while mail flows to the EU. Half send a command one
        byte every 2 s and never finish it; half reach DATA and send a 6-byte header line every 2 s. The
        per-address limit refuses what is over 50; the node closes a command once it has taken longer than the
        idle timeout, and message data once it falls below the floor rate (the idle timeout plus a second per
        500 bytes); real mail keeps getting 250."""
        node = next(n for n in self.d.nodes if n.id == "eu-1")
        sources = [f"127.60.0.{i}" for i in range(1, 5)]
        opened, refused, closed_after = 0, 0, []
        closed_in = {"command": [], "data": []}
        rcpt = self.recipients("eu")[0]

        async def slow_data(reader, writer, start):
            for command in (b"EHLO slow.data.example", b"MAIL FROM:<loris@slow.example>", f"RCPT TO:<{rcpt}>".encode(), b"DATA"):
                writer.write(command + b"\r\n")
                await writer.drain()
                while True:  # EHLO answers several lines
                    line = await asyncio.wait_for(reader.readline(), 10)
                    if not line or line[3:4] != b"-":
                        break
                if not line or line[:1] not in b"23":
                    raise AssertionError(f"the slow DATA client was refused before DATA: {line!r}")
            await trickle(reader, writer, [b"X: y\r\n"] * 30, start, "data")  # 3 bytes/s: under the 500 bytes/s floor

        async def trickle(reader, writer, pieces, start, phase):
            """Sends a piece every 2 s until the node answers 421 or closes; notes when that was."""
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                try:
                    line = await asyncio.wait_for(reader.readline(), 2.0)
                except asyncio.TimeoutError:
                    continue
                if not line or line.startswith(b"421"):
                    closed_after.append(time.monotonic() - start)
                    closed_in[phase].append(time.monotonic() - start)
                    return

        async def slow(source, in_data):
            nonlocal opened, refused
            try:
                reader, writer = await asyncio.open_connection(node.address, self.port, local_addr=(source, 0))
            except OSError:
                refused += 1
                return
            start = time.monotonic()
            try:
                code, _ = await read_reply(reader, 10)
                if code != 220:
                    refused += 1
                    return
                opened += 1
                if in_data:
                    await slow_data(reader, writer, start)
                    return
                await trickle(reader, writer, [bytes([byte]) for byte in b"EHLO slow.loris.example and on"], start, "command")
            except (OSError, ConnectionError):
                closed_after.append(time.monotonic() - start)
            finally:
                writer.close()

        attack = [asyncio.create_task(slow(sources[i % 4], in_data=i % 2 == 1)) for i in range(240)]
        await asyncio.sleep(3.0)
        load = self.load(ledger, "loris", keys=("eu", "sync"), concurrency=12)
        await asyncio.gather(*attack)
        await self.finish(load, 0)
        notes.append(f"slow connections: {opened} admitted, {refused} refused at once (50 per address), "
                     f"{len(closed_after)} closed by the node"
                     + (f" after a median {statistics.median(closed_after):.0f} s" if closed_after else "")
                     + "".join(f"; {len(times)} in {phase} (median {statistics.median(times):.0f} s)"
                               for phase, times in closed_in.items() if times))
        if not closed_in["data"]:
            raise AssertionError("no slow DATA client was closed with 421")
        if len(closed_after) < opened:
            raise AssertionError(f"{opened - len(closed_after)} slow connections were never closed by the node")

    async def thousand_sessions(self, ledger, syncs, notes):
        """1,000 SMTP sessions open at once on eu-1, from 40 client addresses: all reach DATA, then all send."""
        node = next(n for n in self.d.nodes if n.id == "eu-1")
        sources = free_source_addresses(40, network="127.70")
        ready, at_data, failed = asyncio.Event(), [0], [0]
        rcpt = self.recipients("eu")[0]

        def arrived(counter):
            counter[0] += 1
            if at_data[0] + failed[0] == 1000:
                ready.set()

        async def session(index):
            fault_id = f"thousand-{index:05d}"
            ledger.sent.add(fault_id)
            reached = []

            async def before_data():
                reached.append(True)
                arrived(at_data)
                await asyncio.wait_for(ready.wait(), 60)

            try:
                code, _ = await transaction(node.address, self.port, "load@sender.example", rcpt, message(fault_id, rcpt),
                                            source=sources[index % 40], timeout=90, before_data=before_data)
            except Exception as error:  # noqa: BLE001 - every failure is counted, none may happen
                ledger.reply(type(error).__name__)
                if not reached:
                    arrived(failed)
                return
            ledger.reply(code)
            if code == 250:
                ledger.accepted.add(fault_id)

        started = time.monotonic()
        await asyncio.gather(*(session(i) for i in range(1000)))
        notes.append(f"{at_data[0]} sessions were at DATA together; all 1,000 done in {time.monotonic() - started:.1f} s; "
                     f"replies {dict(sorted((str(k), v) for k, v in ledger.replies.items()))}")
        if len(ledger.accepted) != 1000:
            raise AssertionError(f"only {len(ledger.accepted)} of 1,000 concurrent sessions got 250")


SCENARIOS = [
    ("kill -9 nodes under load", "kill9", Suite.kill9),
    ("webhook outage", "outage", Suite.webhook_outage),
    ("leader kill -9", "leader", Suite.leader_kill),
    ("leader cut off from PostgreSQL", "cutoff", Suite.leader_cut_off),
    ("PostgreSQL restart", "postgres", Suite.postgres_restart),
    ("full spool disk", "spool", Suite.full_spool),
    ("bad config bundle", "bundle", Suite.bad_bundle),
    ("clock skew", "skew", Suite.clock_skew),
    ("slowloris", "loris", Suite.slowloris),
    ("1,000 concurrent sessions", "thousand", Suite.thousand_sessions),
]


def table(rows):
    header = ["scenario", "sent", "250", "delivered", "dup", "lost", "API", "config back in"]
    lines = [[r["scenario"], str(r["sent"]), str(r["250"]), str(r["delivered"]), str(r["dup"]), str(r["lost"]), r["api"], r["sync"]]
             for r in rows]
    widths = [max(len(x) for x in column) for column in zip(header, *lines)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) if i == 0 or i >= 6 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines]
    return "\n".join(out)


async def main_async(suite, only):
    for name, prefix, body in SCENARIOS:
        if only and prefix not in only:
            continue
        await suite.scenario(name, prefix, lambda ledger, syncs, notes, body=body: body(suite, ledger, syncs, notes))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", help="where the deployment keeps its data and logs (default: a new temporary directory)")
    parser.add_argument("--only", nargs="*", default=[], help="scenario ids: " + ", ".join(p for _, p, _ in SCENARIOS))
    args = parser.parse_args()
    unknown = set(args.only) - {p for _, p, _ in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; the scenarios are: {', '.join(p for _, p, _ in SCENARIOS)}")
    for address in ("127.1.0.1", "127.60.0.1", "127.70.0.1"):
        if not can_bind(address):
            sys.exit(f"faults: cannot bind {address}; the suite needs the whole 127.0.0.0/8 on the loopback interface")
    work = args.work or tempfile.mkdtemp(prefix="meridian-faults.")
    started = time.monotonic()
    deployment = Deployment(work)
    suite = None
    try:
        suite = Suite(deployment)
        asyncio.run(main_async(suite, args.only))
    finally:
        if suite:
            suite.watch.stopping.set()
        deployment.close()
    print()
    print(table(suite.rows))
    print()
    api_total = {k: sum(c.get(k, 0) for c in suite.watch.counts.values()) for k in ("2xx", "4xx", "5xx", "down", "unanswered")}
    print(f"faults: API watcher over the whole run: {api_total['2xx']} 2xx, {api_total['4xx']} 4xx, {api_total['5xx']} 5xx, "
          f"{api_total['unanswered']} unanswered, {api_total['down']} refused while the coordinator was down")
    bad = api_total["5xx"] + api_total["unanswered"]
    if bad and not any("no answer" in f for f in suite.failures):
        suite.failures.append(f"{bad} API requests got a 5xx or no answer: {suite.watch.errors[:3]}")
    for line in suite.watch.slow:
        print(f"faults: slow API answer: {line}")
    print(f"faults: {len(suite.rows)} scenarios in {time.monotonic() - started:.0f} s; logs in {work}")
    if suite.failures:
        print("faults: FAILED\n  " + "\n  ".join(suite.failures))
        sys.exit(1)
    print(f"faults: {len(suite.rows)} scenarios passed: nothing that got 250 was lost, no API request got a 5xx or went 30 s unanswered, "
          f"and every node was back on the current config within {SYNC_LIMIT:.0f} s of each recovery")


if __name__ == "__main__":
    main()
