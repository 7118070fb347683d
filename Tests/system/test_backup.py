"""`meridian backup` with real processes: a coordinator on SQLite is backed up while it serves, the backup is
restored into a new file and a second coordinator serves the restored data; a node's metadata store is backed up
and restored the same way; bad keys and paths get clear errors; the coordinator's own backup job writes a backup
with --backup-dir."""

import os
import subprocess
import time

from harness import MERIDIAN, ROOT, RegionNode, WebhookSink, api, first_admin, free_port, prove_domains, send, start_coordinator, wait_for


def backup(*args, check=True):
    result = subprocess.run([MERIDIAN, "backup", *args], cwd=ROOT, capture_output=True, text=True)
    assert not check or result.returncode == 0, result.stdout + result.stderr
    return result


def test_coordinator_and_node_backups_restore(tmp_path):
    sink = WebhookSink()
    work = str(tmp_path)
    port = free_port()
    backups = os.path.join(work, "backups")
    coordinator, data = start_coordinator(work, port, extra=["--backup-dir", os.path.join(work, "job-backups"), "--backup-hours", "1"])
    restored = node = None
    try:
        admin = first_admin(data, port)
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Acme", "contact_email": "ops@acme.example", "region": "eu", "domains": ["acme.example"],
            "webhook": {"url": sink.url("/ok"), "mode": "queued"}})
        assert status == 201, created
        cid = prove_domains(port, admin, created["customer"])
        database = f"sqlite:{data}/coordinator.sqlite"

        made = backup("create", "--database", database, "--data-dir", data, "--out", backups)
        assert "coordinator-sqlite" in made.stdout
        [file] = [os.path.join(backups, name) for name in os.listdir(backups)]
        assert b"ops@acme.example" not in open(file, "rb").read(), "the backup is encrypted"
        listed = backup("list", "--dir", backups).stdout
        assert os.path.basename(file) in listed and "DELETED AFTER" in listed
        assert "0 backups past the backups policies deleted" in backup("prune", "--dir", backups).stdout

        # Bad input: another key, an existing target, a file that is not a backup.
        other = os.path.join(work, "other")
        os.makedirs(other)
        open(os.path.join(other, "master.key"), "wb").write(os.urandom(32))
        wrong = backup("restore", file, "--database", f"sqlite:{work}/x.sqlite", "--data-dir", other, check=False)
        assert wrong.returncode != 0 and "does not decrypt with this key" in wrong.stderr
        existing = backup("restore", file, "--database", database, "--data-dir", data, check=False)
        assert existing.returncode != 0 and "exists; restore into a new path" in existing.stderr
        open(os.path.join(work, "junk.mrbk"), "w").write("hello")
        junk = backup("restore", os.path.join(work, "junk.mrbk"), "--database", f"sqlite:{work}/y.sqlite", "--data-dir", data, check=False)
        assert junk.returncode != 0 and "is not a Meridian backup" in junk.stderr
        missing_key = backup("create", "--database", database, "--data-dir", os.path.join(work, "nowhere"), "--out", backups, check=False)
        assert missing_key.returncode != 0 and "no master key" in missing_key.stderr

        # The restored database serves the same account.
        restored_dir = os.path.join(work, "restored")
        os.makedirs(restored_dir)
        for name in ("master.key", "bundle-signing.key", "publication-signing.key", "node-ca.key", "node-ca.pem", "coordinator-ca.key",
                     "coordinator-ca.pem", "admin-token"):
            if os.path.exists(os.path.join(data, name)):
                with open(os.path.join(data, name), "rb") as src, open(os.path.join(restored_dir, name), "wb") as dst:
                    dst.write(src.read())
        backup("restore", file, "--database", f"sqlite:{restored_dir}/coordinator.sqlite", "--data-dir", data)
        second = free_port()
        restored = subprocess.Popen(
            [MERIDIAN, "coordinator", "--database", f"sqlite:{restored_dir}/coordinator.sqlite", "--data-dir", restored_dir,
             "--port", str(second), "--node-port", str(free_port()), "--regions", os.path.join(ROOT, "Regions")],
            cwd=ROOT, stdout=open(os.path.join(work, "restored.log"), "ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: _answers(second, admin), what="the restored coordinator")
        status, shown = api(second, "GET", f"/v1/customers/{cid}", admin)
        assert status == 200 and shown["contact_email"] == "ops@acme.example"

        # A node's metadata store, with its own key.
        node = RegionNode(work, "eu", coordinator, admin, port)
        wait_for(lambda: api(port, "GET", "/v1/nodes", admin)[1]["nodes"], what="the node's first pull")
        wait_for(lambda: api(port, "GET", "/v1/nodes", admin)[1]["nodes"][0]["state"] == "in_sync", what="the node in sync")
        assert send(node.smtp, rcpt="x@acme.example")[0] == 250
        wait_for(lambda: node.messages(cid), what="the message recorded")
        node_data = os.path.join(work, "node-eu")
        # A write the store's database refused is kept beside it (MetadataStore); the backup holds it too.
        refused = b'{"at":1795514400000,"error":"constraint failed","write":{}}\n'
        open(os.path.join(node_data, "metadata-rejected.jsonl"), "wb").write(refused)
        made = backup("create", "--node-data", node_data, "--out", backups)
        assert "created the node backup key" in made.stderr + made.stdout and "node-metadata" in made.stdout
        assert f"with metadata-rejected.jsonl, {len(refused)} bytes" in made.stdout, made.stdout
        [node_file] = [os.path.join(backups, n) for n in os.listdir(backups) if n.startswith("node-metadata")]
        fresh = os.path.join(work, "node-restored")
        os.makedirs(fresh)
        restored_node = backup("restore", node_file, "--node-data", fresh, "--key-file", os.path.join(node_data, "backup.key"))
        assert "with metadata-rejected.jsonl beside it" in restored_node.stdout, restored_node.stdout
        assert os.path.getsize(os.path.join(fresh, "metadata.sqlite")) > 0
        assert open(os.path.join(fresh, "metadata-rejected.jsonl"), "rb").read() == refused
        assert os.stat(os.path.join(fresh, "metadata-rejected.jsonl")).st_mode & 0o777 == 0o600

        # The account's data is erased in its region: the node records when, its next backup says so, and the
        # backups made before go within deleted_customer_backups (45 days) instead of the backups period (90).
        status, dpo = api(port, "POST", "/v1/tokens", admin, {"name": "dpo", "role": "dpo"})
        assert status == 201, dpo
        status, erasure = api(port, "POST", "/v1/gdpr-requests", admin, {"type": "erasure", "regulation": "gdpr", "subject": {"customer_id": cid}})
        assert status == 201, erasure
        status, verified = api(port, "POST", f"/v1/gdpr-requests/{erasure['id']}/verify", dpo["secret"], {"method": "document", "reason": "signed letter"})
        assert status == 200, verified
        assert api(port, "PATCH", f"/v1/gdpr-requests/{erasure['id']}", admin, {"state": "in_progress"})[0] == 200
        # (The ticket itself waits for the regions this test runs no node for; the eu node's part is enough here.)
        wait_for(lambda: os.path.exists(os.path.join(node_data, "accounts-erased.json")), timeout=60, what="the eu node's erasure")
        assert node.messages(cid) == []
        os.remove(os.path.join(node_data, "metadata-rejected.jsonl"))
        time.sleep(1.1)  # backup files are named to the second
        later = backup("create", "--node-data", node_data, "--out", backups)
        assert "side" not in later.stdout and "with" not in later.stdout, later.stdout
        listed = {line.split()[0]: line for line in backup("list", "--dir", backups).stdout.splitlines()[1:]}
        assert "an account deleted" in listed[os.path.basename(node_file)] and "deleted_customer_backups 45d" in listed[os.path.basename(node_file)]
        assert "backups policy, 90d" in listed[os.path.basename(later.stdout.split()[1])]

        # The backup job's pass is tested in BackupTests.swift (it waits one interval first); here, its flag.
        bad = subprocess.run([MERIDIAN, "coordinator", "--backup-hours", "0"], cwd=ROOT, capture_output=True, text=True)
        assert bad.returncode != 0 and "--backup-hours must be from 1 to 720, not 0" in bad.stderr
    finally:
        for process in (node.process if node else None, restored, coordinator):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        sink.close()


def _answers(port, token):
    try:
        return api(port, "GET", "/v1/whoami", token)[0] == 200
    except OSError:
        return False
