"""Announcing a new sub-processor to customers with a DPA, through a real coordinator: the e-mail goes through
the smarthost (an SMTP server here) and the webhook event to the customer's endpoint (an HTTP server here),
signed so that the Standard Webhooks library verifies it."""


from standardwebhooks.webhooks import Webhook

from harness import SMTPSink, WebhookSink, api, first_admin, free_port, start_coordinator, wait_for


def test_dpa_customers_hear_of_a_new_subprocessor_by_email_and_webhook(tmp_path):
    smtp, sink = SMTPSink(), WebhookSink()
    port = free_port()
    coordinator, data = start_coordinator(str(tmp_path), port, extra=["--smarthost", f"127.0.0.1:{smtp.port}"])
    try:
        admin = first_admin(data, port)
        customers = {}
        for name in ("signed", "unsigned"):
            status, created = api(port, "POST", "/v1/customers", admin, {
                "name": name, "contact_email": f"legal@{name}.example", "domains": [f"{name}.example"],
                "webhook": {"url": sink.url(f"/{name}"), "mode": "queued"},
            })
            assert status == 201, created
            customers[name] = created
        signed_id = customers["signed"]["customer"]["id"]
        status, dpa = api(port, "POST", f"/v1/customers/{signed_id}/dpa", admin, {
            "version": "2026-05", "signed_on": "2026-05-01", "signatory": "Jane Roe", "document_sha256": "0" * 64})
        assert status == 201, dpa
        status, entry = api(port, "POST", "/v1/subprocessors", admin, {
            "name": "Analysis Co", "legal_entity": "Analysis Co Ltd", "purpose": "Content analysis", "data_categories": ["message text"],
            "regions": ["eu"], "locations": ["Ireland"], "transfer_mechanism": "none needed", "dpa_in_place": True,
            "egress_hosts": ["analysis.example"], "steps": ["content_analysis"]})
        assert status == 201, entry

        wait_for(lambda: smtp.messages and sink.posts("/signed"), timeout=30, what="the e-mail and the webhook event")
        mail = smtp.messages[0]
        assert mail["to"] == ["<legal@signed.example>"] and mail["from"] == "<privacy@meridian.example>"
        text = mail["data"].decode()
        assert "Subject: New sub-processor: Analysis Co, from " in text and f"POST /v1/customers/{signed_id}/objections" in text

        event = sink.posts("/signed")[0]
        secret = customers["signed"]["webhook_secret"]
        verified = Webhook(secret).verify(event["body"], {k.lower(): v for k, v in event["headers"].items()})
        assert verified["type"] == "subprocessor.announced" and verified["data"]["subprocessor_id"] == entry["id"]
        assert verified["data"]["effective_from"] == entry["effective_from"].replace(".000", "")

        # Only the customer with a DPA is told; the outbox shows both notices sent.
        assert not sink.posts("/unsigned") and len(smtp.messages) == 1
        wait_for(lambda: all(n["status"] == "sent" for n in api(port, "GET", "/v1/notifications", admin)[1]["items"]), what="both marked sent")
        status, outbox = api(port, "GET", "/v1/notifications", admin)
        assert sorted(n["channel"] for n in outbox["items"]) == ["email", "webhook"]
    finally:
        coordinator.terminate()
        coordinator.wait(timeout=30)
        smtp.close()
        sink.close()
