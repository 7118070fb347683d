"""The customer's /account page and the DNS check, against a real coordinator process, a real DNS server
(dnslib on loopback) and a real browser (headless Chromium through Selenium)."""

import os
import re
import subprocess
import urllib.parse
import urllib.request

import pytest

from harness import MERIDIAN, ROOT, DNSZone, api, first_admin, free_port

SCREENSHOTS = os.path.join(ROOT, ".build", "test-output")


@pytest.fixture
def coordinator(tmp_path):
    zone = DNSZone()
    port = free_port()
    data = str(tmp_path / "coordinator")
    process = subprocess.Popen(
        [MERIDIAN, "coordinator", "--database", f"sqlite:{data}/coordinator.sqlite", "--data-dir", data, "--port", str(port),
         "--node-port", str(free_port()), "--dns-resolver", zone.address],
        cwd=ROOT, stdout=open(tmp_path / "coordinator.log", "wb"), stderr=subprocess.STDOUT)
    try:
        admin = first_admin(data, port)
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Globex <Mail>", "contact_email": "ops@globex.example", "region": None,
            "domains": ["globex.example", "globex-eu.example"], "webhook": {"url": "https://hooks.globex.example/in", "mode": "sync"}})
        assert status == 201, created
        cid = created["customer"]["id"]
        status, token = api(port, "POST", "/v1/tokens", admin, {"name": "globex", "role": "customer", "customer_id": cid})
        assert status == 201, token
        tokens = {r["domain"]: r["value"] for r in api(port, "GET", f"/v1/customers/{cid}/dns", admin)[1]["records"] if r["type"] == "TXT"}
        # globex.example is set up right for an unpinned account; globex-eu.example points at the eu region's
        # MX and has no ownership record.
        zone.records["globex.example"] = {"MX": ["mx.meridian.example"]}
        zone.records["_meridian.globex.example"] = {"TXT": [tokens["globex.example"]]}
        zone.records["globex-eu.example"] = {"MX": ["eu.mx.meridian.example"]}
        yield {"port": port, "admin": admin, "customer": cid, "token": token["secret"], "zone": zone, "tokens": tokens}
    finally:
        process.kill()
        zone.close()


def test_dns_check_reports_each_domain(coordinator):
    port, cid, admin, zone = coordinator["port"], coordinator["customer"], coordinator["admin"], coordinator["zone"]
    status, check = api(port, "GET", f"/v1/customers/{cid}/dns/check", admin)
    assert status == 200, check
    assert check["resolver"] == zone.address
    result = {d["domain"]: d for d in check["domains"]}
    assert result["globex.example"]["status"] == "verified", result
    assert result["globex-eu.example"]["status"] == "wrong_region" and result["globex-eu.example"]["mx_region"] == "eu"

    # Pinned to eu, the second domain's MX is right but its ownership record is missing; the first domain now
    # points at the wrong MX (the global one) for a pinned account.
    assert api(port, "PUT", f"/v1/customers/{cid}/region", admin, {"region": "eu"})[0] == 200
    result = {d["domain"]: d for d in api(port, "GET", f"/v1/customers/{cid}/dns/check", admin)[1]["domains"]}
    assert result["globex-eu.example"]["status"] == "missing" and result["globex-eu.example"]["ownership"] == "missing"
    assert "_meridian.globex-eu.example" in result["globex-eu.example"]["detail"]
    assert result["globex.example"]["status"] == "missing" and "eu.mx.meridian.example" in result["globex.example"]["detail"]

    zone.records["_meridian.globex-eu.example"] = {"TXT": ["unrelated", coordinator["tokens"]["globex-eu.example"]]}
    result = {d["domain"]: d for d in api(port, "GET", f"/v1/customers/{cid}/dns/check", admin)[1]["domains"]}
    assert result["globex-eu.example"]["status"] == "verified"

    # A domain with no records at all (NXDOMAIN) is missing, not a failure.
    assert api(port, "PATCH", f"/v1/customers/{cid}", admin, {"domains": ["globex-eu.example", "nothing.example"]})[0] == 200
    result = {d["domain"]: d for d in api(port, "GET", f"/v1/customers/{cid}/dns/check", admin)[1]["domains"]}
    assert result["nothing.example"]["status"] == "missing" and result["nothing.example"]["mx_hosts"] == []


def test_dns_check_says_when_the_resolver_does_not_answer(tmp_path):
    port, silent = free_port(), free_port()  # nothing answers on `silent`
    data = str(tmp_path / "coordinator")
    process = subprocess.Popen(
        [MERIDIAN, "coordinator", "--database", f"sqlite:{data}/c.sqlite", "--data-dir", data, "--port", str(port),
         "--dns-resolver", f"127.0.0.1:{silent}"], cwd=ROOT, stdout=open(tmp_path / "c.log", "wb"), stderr=subprocess.STDOUT)
    try:
        admin = first_admin(data, port)
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Quiet", "contact_email": "ops@quiet.example", "region": "us", "domains": ["quiet.example"],
            "webhook": {"url": "https://hooks.quiet.example/in", "mode": "sync"}})
        status, check = api(port, "GET", f"/v1/customers/{created['customer']['id']}/dns/check", admin)
        assert status == 200 and check["domains"][0]["status"] == "lookup_failed", check
    finally:
        process.kill()
    bad = subprocess.run([MERIDIAN, "coordinator", "--dns-resolver", "resolver.example"], capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "--dns-resolver resolver.example" in bad.stderr


def form(port, path, fields, cookie=None, headers=()):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST", data=urllib.parse.urlencode(fields).encode())
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    if cookie:
        request.add_header("Cookie", cookie)
    for name, value in headers:
        request.add_header(name, value)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def sign_in_form(port, headers=()):
    """The sign-in page's CSRF cookie and token, as a browser gets them with the page."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/account")
    for name, value in headers:
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=10) as response:
        cookie = response.headers["Set-Cookie"]
        page = response.read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return cookie, cookie.split(";")[0], token


def sign_in(port, key, headers=()):
    _, cookie, token = sign_in_form(port, headers)
    return form(port, "/account/sign-in", {"api_key": key, "csrf": token}, cookie=cookie, headers=headers)


def test_account_sign_in_cookie_and_csrf(coordinator):
    port = coordinator["port"]
    status, headers, _ = sign_in(port, coordinator["token"], headers=[("X-Forwarded-Proto", "https")])
    assert status == 303 and headers["Location"] == "/account"
    cookie = headers["Set-Cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/account", "Secure", "Max-Age=1800"):
        assert attribute in cookie, cookie
    session = cookie.split(";")[0]
    assert "Secure" not in sign_in(port, coordinator["token"])[1]["Set-Cookie"]

    # A form without the session's CSRF token changes nothing.
    status, _, body = form(port, "/account/region", {"region": "us", "csrf": "forged"}, cookie=session)
    assert status == 403 and "CSRF" in body
    assert api(port, "GET", f"/v1/customers/{coordinator['customer']}", coordinator["admin"])[1].get("region") is None
    # No session: back to the sign-in page.
    assert form(port, "/account/region", {"region": "us"})[0] == 303
    # Operator tokens and wrong keys are turned away with a page that says why.
    status, _, body = sign_in(port, coordinator["admin"])
    assert status == 403 and "This page is for customers" in body
    status, _, body = sign_in(port, "mrd_" + "x" * 43)
    assert status == 401 and "not valid" in body
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/account", timeout=10) as response:
        assert "no-store" in response.headers["Cache-Control"] and "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_exploit_login_csrf_guessing_and_session_churn_are_refused(coordinator):
    # Before: another site could sign a visitor in to the attacker's account (no CSRF token on the sign-in
    # form), keys could be tried without limit, and 10,000 sign-ins ended every other customer's session.
    port, admin = coordinator["port"], coordinator["admin"]
    status, _, body = form(port, "/account/sign-in", {"api_key": coordinator["token"]})
    assert status == 403 and "sign in again" in body, "a sign-in without the page's CSRF token"
    cookie_header, cookie, token = sign_in_form(port)
    assert "HttpOnly" in cookie_header and "SameSite=Strict" in cookie_header
    assert form(port, "/account/sign-in", {"api_key": coordinator["token"], "csrf": "forged"}, cookie=cookie)[0] == 403

    # One customer's sign-ins end only its own oldest sessions (10 at most), never another customer's.
    status, created = api(port, "POST", "/v1/customers", admin, {
        "name": "Other", "contact_email": "ops@other.example", "domains": ["other.example"],
        "webhook": {"url": "https://hooks.other.example/in", "mode": "sync"}})
    other = api(port, "POST", "/v1/tokens", admin, {"name": "o", "role": "customer", "customer_id": created["customer"]["id"]})[1]["secret"]
    victim = sign_in(port, other)[1]["Set-Cookie"].split(";")[0]
    first = sign_in(port, coordinator["token"])[1]["Set-Cookie"].split(";")[0]
    for _ in range(10):
        assert sign_in(port, coordinator["token"])[0] == 303

    def signed_in(session):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/account")
        request.add_header("Cookie", session)
        with urllib.request.urlopen(request, timeout=10) as response:
            return 'id="current-region"' in response.read().decode()

    assert signed_in(victim), "another customer's session survives"
    assert not signed_in(first), "the customer's own oldest session made room"

    # Guessing: five failures with one key, or thirty attempts from one address, and the page says to wait.
    for _ in range(5):
        assert sign_in(port, "mrd_" + "y" * 43)[0] == 401
    status, headers, body = sign_in(port, "mrd_" + "y" * 43)
    assert status == 429 and int(headers["Retry-After"]) > 0 and "Too many sign-in attempts" in body
    codes = [sign_in(port, "mrd_" + f"{index:043d}")[0] for index in range(20)]
    assert 429 in codes, codes


def test_account_page_in_chromium(coordinator):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1500"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    browser = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    port = coordinator["port"]

    def gone(element):
        try:
            element.tag_name
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            # While the old page is torn down, chromedriver may say so in its own words instead (seen in CI).
            if "does not belong to the document" in str(error):
                return True
            raise

    def submit(form, then):
        """Submits a form and waits until its page is replaced by the one the redirect leads to, where `then` holds."""
        old = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.CSS_SELECTOR, f"{form} button").click()
        wait = WebDriverWait(browser, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
        wait.until(lambda _: gone(old) and then())

    try:
        browser.get(f"http://127.0.0.1:{port}/account")
        browser.find_element(By.ID, "api_key").send_keys(coordinator["token"])
        submit("#sign-in", lambda: browser.find_element(By.ID, "current-region"))
        assert browser.find_element(By.TAG_NAME, "h1").text == "Globex <Mail>"  # escaped in the HTML, shown as typed
        assert browser.find_element(By.ID, "current-region").get_attribute("data-region") == "none"
        assert "mx.meridian.example" in browser.find_element(By.ID, "dns-records").text
        statuses = {row.get_attribute("data-domain"): row.get_attribute("data-status")
                    for row in browser.find_elements(By.CSS_SELECTOR, "#dns-check tbody tr")}
        assert statuses == {"globex.example": "verified", "globex-eu.example": "wrong_region"}, statuses

        browser.find_element(By.CSS_SELECTOR, "#region-form input[value=us]").click()
        browser.find_element(By.ID, "reason").send_keys("US customers")
        submit("#region-form", lambda: browser.find_element(By.ID, "notice"))
        assert "Region changed to" in browser.find_element(By.ID, "notice").text
        assert browser.find_element(By.ID, "current-region").get_attribute("data-region") == "us"
        assert browser.find_element(By.ID, "mx-host").text == "us.mx.meridian.example"
        records = browser.find_element(By.ID, "dns-records").text
        assert records.count("us.mx.meridian.example") == 2 and "eu.mx" not in records
        statuses = {row.get_attribute("data-domain"): row.get_attribute("data-status")
                    for row in browser.find_elements(By.CSS_SELECTOR, "#dns-check tbody tr")}
        assert statuses == {"globex.example": "missing", "globex-eu.example": "wrong_region"}, statuses
        os.makedirs(SCREENSHOTS, exist_ok=True)
        browser.save_screenshot(os.path.join(SCREENSHOTS, "account.png"))

        # The change went through the audit log as the customer's token, with the reason typed.
        status, audit = api(port, "GET", "/v1/audit?limit=1000", coordinator["admin"])
        change = [e for e in audit["items"] if e["action"] == "customer.region.set"][-1]
        assert change["actor_role"] == "customer" and change["detail"].get("reason") == "US customers", change

        # A bad domain is refused with the reason, on the page.
        box = browser.find_element(By.ID, "domains")
        box.clear()
        box.send_keys("globex.example\nbad_domain!")
        submit("#domains-form", lambda: "error" in browser.find_element(By.ID, "notice").get_attribute("class"))
        notice = browser.find_element(By.ID, "notice")
        assert "error" in notice.get_attribute("class") and "bad_domain!" in notice.text, notice.text

        submit("#sign-out", lambda: browser.find_element(By.ID, "sign-in"))
    finally:
        browser.quit()
