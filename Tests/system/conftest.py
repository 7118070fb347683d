"""Fixtures of the system tests, made from the real processes and sinks of Tests/harness.py (which the fault
suite in Tests/e2e uses too). Each fixture stops or closes what it started, whatever the test did."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness import DNSZone, SMTPSink, Up, WebhookSink  # noqa: E402


@pytest.fixture
def sink():
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture
def smtp_sink():
    sink = SMTPSink()
    yield sink
    sink.close()


@pytest.fixture
def dns_zone():
    zone = DNSZone()
    yield zone
    zone.close()


@pytest.fixture
def workdir(tmp_path):
    return str(tmp_path)


@pytest.fixture
def nodes():
    """Nodes a test starts; each is stopped after it."""
    started = []
    yield started
    for node in started:
        node.stop()


@pytest.fixture
def up(tmp_path):
    """`meridian up` on ports of its own, stopped gracefully after the test."""
    instance = Up(tmp_path)
    yield instance
    instance.stop()
