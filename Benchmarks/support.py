"""Helpers the benchmark drivers share (Benchmarks/*/*.py import it from the folder above them)."""

import os
import socket
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=60, what="condition"):
    """Polls until `predicate` returns a true value (an OSError counts as not yet) and returns it; exits the
    benchmark, naming what it waited for, after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{os.path.basename(sys.argv[0])}: timed out waiting for {what}")
