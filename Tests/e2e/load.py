"""Mail the way sending MTAs deliver it: look up the recipient domain's MX in DNS, resolve the MX host to its
addresses, try them in random order, and on a temporary failure (a 4xx reply, a refused or dropped
connection) try the next address, then again after a pause, until the sender's patience runs out. A 5xx
is final. Every message carries an `X-Fault-Id` header, so the webhook sink can count what arrived.

The ledger answers the fault suite's questions: how many messages were sent, how many got 250, how many
reached the customer's webhook, how many arrived twice, and how many got 250 but never arrived (lost)."""

import asyncio
import json
import random
import socket
import time

from dnslib import QTYPE, DNSRecord


class Resolver:
    """MX, then A, from the deployment's DNS server; cached for the run as an MTA caches by TTL."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.server, self.port = host, int(port)
        self.cache = {}

    def query(self, name, kind):
        reply = DNSRecord.parse(DNSRecord.question(name, kind).send(self.server, self.port, timeout=2))
        return [(rr.rdata.preference, str(rr.rdata.label).rstrip(".")) if kind == "MX" else str(rr.rdata)
                for rr in reply.rr if QTYPE[rr.rtype] == kind]

    def addresses(self, domain):
        if domain not in self.cache:
            hosts = [host for _, host in sorted(self.query(domain, "MX"))]
            self.cache[domain] = [a for host in hosts for a in self.query(host, "A")]
        return self.cache[domain]


class Ledger:
    def __init__(self, name):
        self.name = name
        self.sent = set()
        self.accepted = set()
        self.replies = {}  # reply code -> count, every attempt
        self.gave_up = set()
        self.failovers = 0

    def reply(self, code):
        self.replies[code] = self.replies.get(code, 0) + 1


def message(fault_id, rcpt, size=0):
    body = "This message is part of the fault suite.\r\n"
    if size:
        line = "x" * 76 + "\r\n"
        body += line * max(1, size // len(line))
    return (f"From: Load <load@sender.example>\r\nTo: <{rcpt}>\r\nSubject: fault {fault_id}\r\n"
            f"X-Fault-Id: {fault_id}\r\nMessage-ID: <{fault_id}@sender.example>\r\n\r\n{body}").encode()


class SMTPError(Exception):
    def __init__(self, code, text):
        super().__init__(f"{code} {text}")
        self.code = code


async def read_reply(reader, timeout):
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise ConnectionError("the server closed the connection")
        lines.append(line.decode("latin-1").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(lines[-1][:3]), "\n".join(lines)


async def transaction(address, port, sender, rcpt, data, source=None, timeout=30, before_data=None):
    """One SMTP session delivering one message; returns the final reply code. Raises SMTPError on a refusal
    before DATA, OSError/ConnectionError/TimeoutError when the connection fails."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(address, port, local_addr=(source, 0) if source else None), timeout)
    try:
        async def command(line, expect):
            if line is not None:
                writer.write(line.encode() + b"\r\n")
                await writer.drain()
            code, text = await read_reply(reader, timeout)
            if code != expect:
                raise SMTPError(code, text)

        await command(None, 220)
        await command("EHLO load.sender.example", 250)
        await command(f"MAIL FROM:<{sender}>", 250)
        await command(f"RCPT TO:<{rcpt}>", 250)
        await command("DATA", 354)
        if before_data:
            await before_data()
        writer.write(data + b"\r\n.\r\n")
        await writer.drain()
        code, text = await read_reply(reader, timeout)
        writer.write(b"QUIT\r\n")
        return code, text
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 2)
        except (OSError, asyncio.TimeoutError):
            pass


async def deliver(ledger, resolver, port, fault_id, rcpt, patience=120.0, size=0, source=None, pause=0.5):
    """Delivers one message as an MTA would (see the module's description)."""
    domain = rcpt.rsplit("@", 1)[1]
    data = message(fault_id, rcpt, size)
    ledger.sent.add(fault_id)
    deadline = time.monotonic() + patience
    first = True
    while time.monotonic() < deadline:
        addresses = list(resolver.addresses(domain))
        random.shuffle(addresses)
        for address in addresses:
            if not first:
                ledger.failovers += 1
            first = False
            try:
                code, _ = await transaction(address, port, "load@sender.example", rcpt, data, source)
            except SMTPError as refusal:
                code = refusal.code
            except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                ledger.reply("conn")
                continue
            ledger.reply(code)
            if code == 250:
                ledger.accepted.add(fault_id)
                return True
            if code >= 500:
                ledger.gave_up.add(fault_id)
                return False
        await asyncio.sleep(pause)
    ledger.gave_up.add(fault_id)
    return False


async def run(ledger, resolver, port, recipients, count, concurrency, prefix, size=0, patience=120.0, stop=None):
    """`count` messages, `concurrency` at a time, to recipients picked round-robin; with `stop` (an
    asyncio.Event), as many as go until it is set instead."""
    counter = iter(range(count if stop is None else 10**9))

    async def worker():
        for index in counter:
            if stop is not None and stop.is_set():
                return
            rcpt = recipients[index % len(recipients)]
            await deliver(ledger, resolver, port, f"{prefix}-{index:05d}", rcpt, patience=patience, size=size)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def deliveries(sink, prefix):
    """fault id -> the webhook-ids of its deliveries, from the sink's record of 2xx answers it gave."""
    found = {}
    for post in sink.posts():
        if "fault_id" not in post:  # parsed once; the suite asks again and again
            try:
                post["fault_id"] = json.loads(post["body"])["headers"].get("x_fault_id")  # CloudMailin's header names
            except (ValueError, KeyError, AttributeError):
                post["fault_id"] = None
        fault_id = post["fault_id"]
        if fault_id and fault_id.startswith(prefix + "-") and post.get("status") == 200:
            found.setdefault(fault_id, []).append(post["headers"].get("webhook-id"))
    return found


def free_source_addresses(count, network="127.50"):
    """Loopback source addresses, so that sessions count as different clients (per-IP limits)."""
    return [f"{network}.{i // 200}.{i % 200 + 1}" for i in range(count)]


def can_bind(address):
    with socket.socket() as s:
        try:
            s.bind((address, 0))
            return True
        except OSError:
            return False
