"""The message log across regions: a coordinator with an eu and a us node that take mail, and an ap node that
joined and then stopped. The API pages through every region with cursors (no message twice, none skipped), the
dashboard lists and filters the same messages and says which region did not answer, a message's page shows its
attempts, and a delivery waiting for its retry is brought forward from the dashboard."""

import os
import re
import subprocess
import urllib.parse

from harness import MERIDIAN, WebhookSink, api, first_admin, fleet_with_a_dead_node, free_port, prove_domains, send, start_coordinator, wait_for
from test_account import csrf_of, form, join, page


def test_message_log_pages_filters_and_redelivers_across_regions(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    port = free_port()
    coordinator, data = start_coordinator(work, port)
    nodes = []
    try:
        admin = first_admin(data, port)
        eu, us, dead = fleet_with_a_dead_node(work, coordinator, admin, port, nodes)

        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Log", "contact_email": "ops@log.example", "region": None, "domains": ["log.example"],
            "webhook": {"url": sink.url("/outage"), "mode": "queued"}})
        assert status == 201, created
        cid = prove_domains(port, admin, created["customer"])
        wait_for(lambda: eu.status()["customers"] == 1 and us.status()["customers"] == 1, what="the customer in both regions")
        wait_for(lambda: send(eu.smtp, rcpt="first@log.example", subject="eu 0")[0] == 250, what="the eu node taking log.example")
        wait_for(lambda: send(us.smtp, rcpt="first@log.example", subject="us 0")[0] == 250, what="the us node taking log.example")
        for index in range(1, 4):
            assert send(eu.smtp, rcpt=f"m{index}@log.example", subject=f"eu {index}")[0] == 250
            assert send(us.smtp, rcpt=f"m{index}@log.example", subject=f"us {index}")[0] == 250
        wait_for(lambda: len(sink.posts("/outage")) == 8, what="eight deliveries")

        # Pages of two through both regions: every message once, newest first, and the dead node named each time.
        seen, after = [], None
        while True:
            query = "limit=2" + (f"&after={urllib.parse.quote(after)}" if after else "")
            status, body = api(port, "GET", f"/v1/customers/{cid}/messages?{query}", admin)
            assert status == 200, body
            assert any(s["status"] == "unreachable" for s in body["sources"])
            seen += body["messages"]
            after = body.get("next_cursor")
            if not after:
                break
        assert len(seen) == 8 and len({(m["message_id"], m["recipient"]) for m in seen}) == 8
        assert [m["cursor"] for m in seen] == sorted((m["cursor"] for m in seen), key=lambda c: (-int(c.split(".")[0]), c.split(".", 1)[1]))
        status, body = api(port, "GET", f"/v1/customers/{cid}/messages?subject=US%20&status=delivered", admin)
        assert status == 200 and sorted(m["metadata"]["subject"] for m in body["messages"]) == ["us 0", "us 1", "us 2", "us 3"]
        status, body = api(port, "GET", f"/v1/customers/{cid}/messages?after=not-a-cursor", admin)
        assert status == 400 and "after" in body["detail"]

        # The dashboard: the same messages, filters, a bad date refused on the page.
        status, invited = api(port, "POST", f"/v1/customers/{cid}/invitations", admin, {"email": "owner@log.example", "role": "owner"})
        session = join(port, invited["url"], "Lou", "log owner password")
        status, _, listing = page(port, "/account/messages", cookie=session)
        assert status == 200 and listing.count('data-status="delivered"') == 8
        assert "Not answering" in listing and "ap" in listing
        status, _, filtered = page(port, "/account/messages?subject=eu+2&status=delivered", cookie=session)
        assert filtered.count('data-status="delivered"') == 1 and "eu 2" in filtered
        status, _, bad = page(port, "/account/messages?since=2026-13-40", cookie=session)
        assert status == 400 and "is not a date such as" in bad and 'id="messages"' in bad

        # A message's page: its fields and its attempt, with the endpoint's answer and the config version.
        link = re.search(r'<a href="(/account/messages/eml_[^"]+)">', filtered).group(1)
        status, _, message = page(port, link, cookie=session)
        assert status == 200 and "eu 2" in message and "thanks" in message and 'data-status="delivered"' in message
        assert 'id="redeliver-form"' not in message, "a delivered message is not in the spool any more"
        message_id, recipient = link.rsplit("/", 2)[-2:]
        status, body = api(port, "POST", f"/v1/customers/{cid}/messages/{message_id}/{recipient}/redeliver", admin)
        assert status == 409 and "no longer in the spool" in body["detail"]
        status, detail = api(port, "GET", f"/v1/customers/{cid}/messages/{message_id}/{recipient}", admin)
        assert status == 200 and detail["attempts"][0]["status_code"] == 200 and detail["attempts"][0]["config_version"] >= 1

        # The same through the CLI.
        env = dict(os.environ, MERIDIAN_URL=f"http://127.0.0.1:{port}", MERIDIAN_TOKEN=admin)

        def cli(*args):
            return subprocess.run([MERIDIAN, "messages", *args], capture_output=True, text=True, env=env, timeout=60)
        listed = cli("list", cid, "--status", "delivered", "--subject", "eu", "--limit", "2")
        assert listed.returncode == 0 and listed.stdout.count(" delivered ") == 2 and "more: --after " in listed.stdout, listed.stdout + listed.stderr
        shown = cli("show", cid, message_id, recipient)
        assert shown.returncode == 0 and "delivered after 1 attempt" in shown.stdout and "thanks" in shown.stdout, shown.stdout + shown.stderr
        refused = cli("redeliver", cid, message_id, recipient)
        assert refused.returncode != 0 and "no longer in the spool" in refused.stderr, refused.stdout + refused.stderr
        bad = cli("list", cid, "--status", "lost")
        assert bad.returncode != 0 and "lost" in bad.stderr

        # An outage: the next message waits a minute for its retry; once the endpoint is back, "Deliver now".
        sink.outage.set()
        assert send(eu.smtp, rcpt="late@log.example", subject="after the outage")[0] == 250
        wait_for(lambda: any(r.get("status") == 503 for r in sink.posts("/outage")), what="the failed first attempt")
        sink.outage.clear()
        status, _, waiting = page(port, "/account/messages?subject=after+the+outage", cookie=session)
        link = re.search(r'<a href="(/account/messages/eml_[^"]+)">', waiting).group(1)
        wait_for(lambda: 'id="redeliver-form"' in page(port, link, cookie=session)[2], what="the first attempt recorded")
        status, _, message = page(port, link, cookie=session)
        assert "down for maintenance" in message
        before = len(sink.posts("/outage"))
        status, headers, _ = form(port, f"{link}/redeliver", {"csrf": csrf_of(message)}, cookie=session)
        assert status == 303 and headers["Location"] == link
        assert "being attempted now" in page(port, link, cookie=session)[2]
        wait_for(lambda: len(sink.posts("/outage")) == before + 1, timeout=10, what="the redelivery, long before the minute's retry")
        wait_for(lambda: 'data-status="delivered"' in page(port, link, cookie=session)[2], what="the record delivered")
        status, audit = api(port, "GET", "/v1/audit?limit=1000", admin)
        assert any(e["action"] == "message.redeliver" and e["detail"]["outcome"] == "scheduled" and e["actor_id"].startswith("usr_")
                   for e in audit["items"])
        assert any(e["action"] == "customer.messages.read" and e["actor_id"].startswith("usr_") for e in audit["items"])
    finally:
        for node in nodes:
            node.stop()
        coordinator.terminate()
        coordinator.wait(timeout=30)
        sink.close()
