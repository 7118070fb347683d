"""The public pages and the warrant canary on `meridian up`, with real peers: the stock openssl CLI verifies the
canary, headless Chromium renders every page (screenshots in .build/test-output/), html5lib's strict parser
checks the HTML, and the retention numbers on /privacy are compared with the signed bundle each node applied."""

import json
import os
import re
import subprocess
import urllib.error
import urllib.request

import html5lib
import pytest

from harness import MERIDIAN, ROOT, Up, last_good_parts

SCREENSHOTS = os.path.join(ROOT, ".build", "test-output")
PAGES = ["/", "/privacy", "/regions", "/subprocessors", "/transparency", "/canary"]


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def cli(up, *args, check=True):
    result = subprocess.run([MERIDIAN, *args, "--url", f"http://127.0.0.1:{up.port}"], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, MERIDIAN_TOKEN=up.admin))
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def enforced_policy(up, region):
    """The policy in the config the node applied: its last-known-good snapshot and the deltas after it (a delta
    carries the policy only when it changed), signed by the coordinator."""
    return [part["policy"] for part in last_good_parts(os.path.join(up.data, f"node-{region}")) if part.get("policy")][-1]


@pytest.fixture
def up(tmp_path):
    instance = Up(tmp_path)
    try:
        yield instance
    finally:
        instance.stop()


def test_canary_verifies_with_openssl_and_the_cli(up, tmp_path):
    base = f"http://127.0.0.1:{up.port}"
    assert fetch(base + "/.well-known/canary.txt")[0] == 404
    issued = cli(up, "canary", "issue")
    assert "We have not received any warrants." in issued.stdout

    directory = tmp_path / "canary"
    directory.mkdir()
    for name in ("canary.txt", "canary.txt.sig", "canary.pub"):
        status, headers, body = fetch(f"{base}/.well-known/{name}")
        assert status == 200, name
        (directory / name).write_bytes(body)
    assert len((directory / "canary.txt.sig").read_bytes()) == 64
    assert (directory / "canary.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    openssl = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "canary.pub", "-rawin", "-in", "canary.txt", "-sigfile", "canary.txt.sig"]
    result = subprocess.run(openssl, cwd=directory, capture_output=True, text=True)
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout, result.stdout + result.stderr

    assert cli(up, "canary", "verify").returncode == 0
    # One changed byte: openssl and meridian both refuse it.
    text = (directory / "canary.txt").read_bytes()
    (directory / "canary.txt").write_bytes(text.replace(b"Sequence: 1", b"Sequence: 9"))
    assert subprocess.run(openssl, cwd=directory, capture_output=True).returncode != 0
    refused = subprocess.run([MERIDIAN, "canary", "verify", "--dir", str(directory)], capture_output=True, text=True)
    assert refused.returncode == 1 and "BAD SIGNATURE" in refused.stdout

    # A warrant on record: the canary may no longer state WAR, and says so naming the request.
    cli(up, "legal-requests", "add", "--received", "2026-11-01", "--authority", "Court", "--country", "US", "--kind", "warrant")
    refusal = cli(up, "canary", "issue", check=False)
    assert refusal.returncode != 0 and "refusing to sign a canary that asserts WAR" in refusal.stderr
    second = cli(up, "canary", "issue", "--codes", "GAG", "SUBP", "TRAP", "CEASE", "DURESS", "RAID", "SEIZE", "XCRED", "XOPERS")
    assert "No longer stated:\n  WAR" in second.stdout
    verified = cli(up, "canary", "verify")
    assert "NO LONGER STATED: WAR" in verified.stdout


def test_every_page_in_chromium_matches_what_the_nodes_enforce(up, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    base = f"http://127.0.0.1:{up.port}"
    up.in_sync()
    cli(up, "canary", "issue")
    os.makedirs(SCREENSHOTS, exist_ok=True)

    # Served as the site serves them: valid HTML5, no scripts, no cookies, nothing fetched from elsewhere.
    for path in PAGES:
        status, headers, body = fetch(base + path)
        assert status == 200, path
        assert "Set-Cookie" not in headers and "default-src 'none'" in headers["Content-Security-Policy"], path
        html5lib.HTMLParser(strict=True).parse(body)
        text = body.decode()
        assert "<script" not in text, path
        for reference in re.findall(r'(?:src|href)="([^"]*)"', text):
            assert reference.startswith("/") or reference.startswith("mailto:"), f"{path} refers to {reference}"

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1400"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    browser = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        for path in PAGES:
            browser.get(base + path)
            name = "index" if path == "/" else path.strip("/")
            browser.save_screenshot(os.path.join(SCREENSHOTS, f"public-{name}.png"))
            assert browser.get_cookies() == []

        browser.get(base + "/subprocessors")
        rows = {row.get_attribute("data-id"): row.get_attribute("data-state")
                for row in browser.find_elements(By.CSS_SELECTOR, "#subprocessors tbody tr[data-id]")}
        assert rows == {"aws": "in_force", "heroku": "in_force", "crunchy-data": "in_force", "openai": "announced"}
        assert "demo data" in browser.find_element(By.CSS_SELECTOR, 'tr[data-id="openai"]').text

        # The retention table against the policy in the bundle each node applied.
        browser.get(base + "/privacy")
        keys = {"message_metadata": "message_metadata_seconds", "delivery_logs": "delivery_logs_seconds",
                "ip_masking": "ip_masking_after_seconds", "queue_lifetime": "queue_lifetime_seconds"}
        for region in ("eu", "us", "ap"):
            policy = enforced_policy(up, region)
            for key, field in keys.items():
                cell = browser.find_element(By.CSS_SELECTOR, f'#retention tr[data-key="{key}"] td[data-region="{region}"]')
                assert int(cell.get_attribute("data-seconds")) == policy[field], (region, key)
        assert policy["message_metadata_seconds"] == 60 * 86400
        fields = [row.get_attribute("data-field") for row in browser.find_elements(By.CSS_SELECTOR, "#metadata tr[data-field]")]
        assert {"sender_ip", "subject", "message_id", "tls", "server_response", "config_version"} <= set(fields)

        browser.get(base + "/regions")
        assert [row.get_attribute("data-region") for row in browser.find_elements(By.CSS_SELECTOR, "#regions tr[data-region]")] == ["ap", "eu", "us"]
        browser.get(base + "/canary")
        assert "current until" in browser.find_element(By.ID, "canary-status").text
        assert len(browser.find_elements(By.CSS_SELECTOR, '#codes tr[data-asserted="true"]')) == 10

        # Readable on a phone: nothing wider than the screen.
        browser.set_window_size(390, 844)
        for path in PAGES:
            browser.get(base + path)
            assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), path
        browser.get(base + "/privacy")
        browser.save_screenshot(os.path.join(SCREENSHOTS, "public-privacy-phone.png"))
    finally:
        browser.quit()


def test_publish_writes_the_same_site_as_static_files(up, tmp_path):
    base = f"http://127.0.0.1:{up.port}"
    cli(up, "canary", "issue")
    out = tmp_path / "site"
    result = cli(up, "publish", "--out", str(out))
    assert "wrote 15 files" in result.stdout, result.stdout
    normalise = lambda data: re.sub(rb"(Generated |\"generated_at\" : \"|\"generated_at\": \")[0-9T:Z-]+", b"", data)
    for path, file in [("/", "index.html"), ("/privacy", "privacy/index.html"), ("/subprocessors.atom", "subprocessors.atom"),
                       ("/subprocessors.json", "subprocessors.json"), ("/.well-known/canary.txt", ".well-known/canary.txt"),
                       ("/.well-known/canary.txt.sig", ".well-known/canary.txt.sig"), ("/regions.json", "regions.json")]:
        assert normalise((out / file).read_bytes()) == normalise(fetch(base + path)[2]), path
    feed = (out / "subprocessors.atom").read_text()
    assert "<title>New sub-processor: OpenAI, effective " in feed
