"""What a `meridian` process leaves on disk is its owner's alone: the node's bundle (webhook secrets in the
clear), metadata store and spool, the coordinator's database and keys; another user on the machine can read
none of it, also when an older build left the files readable to all."""

import os
import shutil
import stat
import subprocess
import tempfile

from harness import Node, customer, first_admin, free_port, send, start_coordinator, wait_for


def readable_by_another_user(path):
    """Whether the `nobody` user can read `path` (as root: runuser; otherwise only the mode bits tell)."""
    if os.geteuid() != 0:
        return bool(os.stat(path).st_mode & stat.S_IROTH)
    return subprocess.run(["runuser", "-u", "nobody", "--", "cat", path], capture_output=True).returncode == 0


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_node_and_coordinator_files_are_owner_only(sink, nodes):
    # A directory any user may enter (pytest's own are 0700), so that only Meridian's modes stand in the way.
    work = tempfile.mkdtemp(prefix="meridian-files-", dir="/tmp")
    os.chmod(work, 0o755)
    try:
        check(work, sink, nodes)
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(work, ignore_errors=True)


def check(work, sink, nodes):
    node_dir = os.path.join(work, "node")
    # An older build's leftovers, readable to all: the node makes them owner-only when it starts.
    os.makedirs(node_dir, mode=0o755)
    os.chmod(node_dir, 0o755)
    left = os.path.join(node_dir, "accounts-erased.json")
    with open(left, "w") as f:
        f.write("[]")
    os.chmod(left, 0o644)
    node = Node(work, [customer("cus_acme", "acme.example", sink.url("/ok"))])
    nodes.append(node)
    assert send(node.smtp_port)[0] == 250
    wait_for(lambda: sink.posts("/ok"), what="the delivery")

    for name in ("metadata.sqlite", "bundle.last-good.json", "accounts-erased.json"):
        path = os.path.join(node_dir, name)
        assert mode(path) == 0o600, (name, oct(mode(path)))
        assert not readable_by_another_user(path), name
    assert mode(node_dir) == 0o700 and mode(os.path.join(node_dir, "spool")) == 0o700
    assert mode(os.path.join(node_dir, "identity")) == 0o700
    for name in ("node.pem", "enrollment.json"):
        assert not readable_by_another_user(os.path.join(node_dir, "identity", name)), name
    segments = [n for n in os.listdir(os.path.join(node_dir, "spool")) if n.endswith(".log")]
    assert segments and all(mode(os.path.join(node_dir, "spool", n)) == 0o600 for n in segments)

    port = free_port()
    coordinator, data = start_coordinator(work, port)
    try:
        first_admin(data, port)
        for name in ("coordinator.sqlite", "master.key", "bundle-signing.key", "node-ca.key", "coordinator-ca.key", "admin-token"):
            path = os.path.join(data, name)
            assert mode(path) == 0o600, (name, oct(mode(path)))
            assert not readable_by_another_user(path), name
        assert mode(data) == 0o700
    finally:
        coordinator.terminate()
        coordinator.wait(timeout=30)
