"""The customer's dashboard (/account) and the DNS check, against a real coordinator process, a real DNS server
(dnslib on loopback) and a real browser (headless Chromium through Selenium): people join through an
invitation, sign in with a password and a second factor, and manage the account."""

import base64
import hashlib
import hmac
import os
import re
import struct
import subprocess
import time
import urllib.parse
import urllib.request

import html5lib
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
        status, invitation = api(port, "POST", f"/v1/customers/{cid}/invitations", admin, {"email": "Owner@Globex.example", "role": "owner"})
        assert status == 201, invitation
        tokens = {r["domain"]: r["value"] for r in api(port, "GET", f"/v1/customers/{cid}/dns", admin)[1]["records"] if r["type"] == "TXT"}
        # globex.example is set up right for an unpinned account; globex-eu.example points at the eu region's
        # MX and has no ownership record.
        zone.records["globex.example"] = {"MX": ["mx.meridian.example"]}
        zone.records["_meridian.globex.example"] = {"TXT": [tokens["globex.example"]]}
        zone.records["globex-eu.example"] = {"MX": ["eu.mx.meridian.example"]}
        yield {"port": port, "admin": admin, "customer": cid, "invitation": invitation["url"], "zone": zone, "tokens": tokens}
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


def page(port, path, cookie=None, headers=()):
    """(status, headers, body) of a GET, with a cookie."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if cookie:
        request.add_header("Cookie", cookie)
    for name, value in headers:
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def csrf_of(body):
    return re.search(r'name="csrf" value="([^"]*)"', body).group(1)


def pre_session_form(port, path, headers=()):
    """A page whose form is used before there is a session: its CSRF cookie and token, as a browser gets them."""
    status, response_headers, body = page(port, path, headers=headers)
    cookie = response_headers["Set-Cookie"]
    return cookie, cookie.split(";")[0], csrf_of(body)


def sign_in(port, email, password, headers=()):
    _, cookie, token = pre_session_form(port, "/account", headers)
    return form(port, "/account/sign-in", {"email": email, "password": password, "csrf": token}, cookie=cookie, headers=headers)


def session_of(answer):
    return answer[1]["Set-Cookie"].split(";")[0]


def join(port, url, name, password):
    """Accepts an invitation as a browser does; returns the new session's cookie."""
    path = urllib.parse.urlparse(url).path
    _, cookie, token = pre_session_form(port, path)
    answer = form(port, path, {"csrf": token, "name": name, "password": password, "password_again": password}, cookie=cookie)
    assert answer[0] == 303, answer
    return session_of(answer)


def totp(key, at=None):
    """RFC 6238 (SHA-1, 6 digits, 30 s) from the key as the page shows it (base32 in groups)."""
    secret = base64.b32decode(key.replace(" ", "") + "=" * (-len(key.replace(" ", "")) % 8))
    counter = int((at or time.time()) // 30)
    digest = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


OWNER, PASSWORD = "owner@globex.example", "correct horse battery"


def test_account_sign_in_cookie_and_csrf(coordinator):
    port = coordinator["port"]
    join(port, coordinator["invitation"], "Olive Owner", PASSWORD)
    status, headers, _ = sign_in(port, OWNER, PASSWORD, headers=[("X-Forwarded-Proto", "https")])
    assert status == 303 and headers["Location"] == "/account"
    cookie = headers["Set-Cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/account", "Secure", "Max-Age=43200"):
        assert attribute in cookie, cookie
    session = cookie.split(";")[0]
    assert "Secure" not in sign_in(port, OWNER, PASSWORD)[1]["Set-Cookie"]

    # A form without the session's CSRF token changes nothing.
    status, _, body = form(port, "/account/region", {"region": "us", "csrf": "forged"}, cookie=session)
    assert status == 403 and "CSRF" in body
    assert api(port, "GET", f"/v1/customers/{coordinator['customer']}", coordinator["admin"])[1].get("region") is None
    # No session: back to the sign-in page.
    assert form(port, "/account/region", {"region": "us"})[0] == 303
    # A wrong password and an unknown address get the same answer.
    wrong, unknown = sign_in(port, OWNER, "not the password"), sign_in(port, "nobody@globex.example", "not the password")
    assert wrong[0] == unknown[0] == 401 and "is not right" in wrong[2] and "is not right" in unknown[2]
    status, headers, _ = page(port, "/account")
    assert "no-store" in headers["Cache-Control"] and "default-src 'none'" in headers["Content-Security-Policy"]


def test_every_page_is_strict_html5_without_scripts(coordinator):
    port = coordinator["port"]
    session = join(port, coordinator["invitation"], "Olive Owner", PASSWORD)
    status, invited = api(port, "POST", f"/v1/customers/{coordinator['customer']}/invitations", coordinator["admin"], {"email": "new@globex.example"})
    pages = [("/account", None), (urllib.parse.urlparse(invited["url"]).path, None), ("/account/invitations/nope", None)]
    pages += [(path, session) for path in ("/account", "/account/messages", "/account/settings", "/account/privacy", "/account/security", "/account/people")]
    pages += [("/account/messages?since=yesterday", session), ("/account/messages/eml_none/0", session)]
    for path, cookie in pages:
        status, _, body = page(port, path, cookie=cookie)
        assert status in (200, 400, 404), (path, status)
        html5lib.HTMLParser(strict=True).parse(body)
        assert "<script" not in body, path
        forms = re.findall(r'<form method="post"[^>]*>.*?</form>', body, re.S)
        assert all('name="csrf"' in f for f in forms), f"{path}: a form that changes something without a CSRF token"
        assert len(re.findall(r"<form", body)) == len(forms) + body.count('<form method="get"'), f"{path}: a form of another method"


def test_exploit_login_csrf_guessing_and_session_churn_are_refused(coordinator):
    # Before: another site could sign a visitor in to the attacker's account (no CSRF token on the sign-in
    # form), passwords could be tried without limit, and one person's sign-ins could end everyone's sessions.
    port, admin = coordinator["port"], coordinator["admin"]
    join(port, coordinator["invitation"], "Olive Owner", PASSWORD)
    status, _, body = form(port, "/account/sign-in", {"email": OWNER, "password": PASSWORD})
    assert status == 403 and "try again" in body, "a sign-in without the page's CSRF token"
    cookie_header, cookie, token = pre_session_form(port, "/account")
    assert "HttpOnly" in cookie_header and "SameSite=Strict" in cookie_header
    assert form(port, "/account/sign-in", {"email": OWNER, "password": PASSWORD, "csrf": "forged"}, cookie=cookie)[0] == 403

    # One person's sign-ins end only their own oldest sessions (10 at most), never another account's.
    status, created = api(port, "POST", "/v1/customers", admin, {
        "name": "Other", "contact_email": "ops@other.example", "domains": ["other.example"],
        "webhook": {"url": "https://hooks.other.example/in", "mode": "sync"}})
    other = api(port, "POST", f"/v1/customers/{created['customer']['id']}/invitations", admin, {"email": "ops@other.example"})[1]["url"]
    victim = join(port, other, "Victor", "victim's password")
    first = session_of(sign_in(port, OWNER, PASSWORD))
    for _ in range(10):
        assert sign_in(port, OWNER, PASSWORD)[0] == 303

    def signed_in(session):
        return 'id="current-region"' in page(port, "/account", cookie=session)[2]

    assert signed_in(victim), "another account's session survives"
    assert not signed_in(first), "the person's own oldest session made room"

    # Guessing: five failures for one address, or thirty attempts from one client, and the page says to wait.
    for _ in range(5):
        assert sign_in(port, OWNER, "wrong password!")[0] == 401
    status, headers, body = sign_in(port, OWNER, PASSWORD)
    assert status == 429 and int(headers["Retry-After"]) > 0 and "Too many sign-in attempts" in body
    codes = [sign_in(port, f"guess{index}@globex.example", "wrong password!")[0] for index in range(20)]
    assert 429 in codes, codes


def test_account_pages_in_chromium(coordinator):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1500"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    browser = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    port = coordinator["port"]
    os.makedirs(SCREENSHOTS, exist_ok=True)

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

    def fill(fields):
        for element_id, value in fields.items():
            box = browser.find_element(By.ID, element_id)
            box.clear()
            box.send_keys(value)

    try:
        # Joining through the invitation link.
        browser.get(coordinator["invitation"])
        assert browser.find_element(By.ID, "invited-email").text == OWNER
        fill({"name": "Olive Owner", "password": PASSWORD, "password_again": PASSWORD})
        submit("#invitation-form", lambda: browser.find_element(By.ID, "current-region"))
        assert "Welcome, Olive Owner" in browser.find_element(By.ID, "notice").text
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
        browser.save_screenshot(os.path.join(SCREENSHOTS, "account.png"))

        # The change went through the audit log as the person, with the reason typed.
        status, audit = api(port, "GET", "/v1/audit?limit=1000", coordinator["admin"])
        change = [e for e in audit["items"] if e["action"] == "customer.region.set"][-1]
        assert change["actor_role"] == "customer" and change["actor_id"].startswith("usr_") and change["detail"].get("reason") == "US customers", change

        # A bad domain is refused with the reason, on the page.
        box = browser.find_element(By.ID, "domains")
        box.clear()
        box.send_keys("globex.example\nbad_domain!")
        submit("#domains-form", lambda: "error" in browser.find_element(By.ID, "notice").get_attribute("class"))
        notice = browser.find_element(By.ID, "notice")
        assert "error" in notice.get_attribute("class") and "bad_domain!" in notice.text, notice.text

        # Settings: the webhook, its test, the secret, redactions and API keys on one page.
        browser.find_element(By.CSS_SELECTOR, "nav.account a[href='/account/settings']").click()
        WebDriverWait(browser, 10).until(lambda _: browser.find_element(By.ID, "webhook-form"))
        assert browser.find_element(By.ID, "webhook-url").get_attribute("value") == "https://hooks.globex.example/in"
        browser.save_screenshot(os.path.join(SCREENSHOTS, "account-settings.png"))
        # Messages (no node runs here, so none) and Privacy.
        browser.find_element(By.CSS_SELECTOR, "nav.account a[href='/account/messages']").click()
        WebDriverWait(browser, 10).until(lambda _: browser.find_element(By.ID, "filter-form"))
        browser.find_element(By.ID, "filter-since").send_keys("2026-02-30")
        submit("#filter-form", lambda: browser.find_element(By.ID, "notice"))
        assert "is not a date such as" in browser.find_element(By.ID, "notice").text
        browser.save_screenshot(os.path.join(SCREENSHOTS, "account-messages.png"))
        browser.find_element(By.CSS_SELECTOR, "nav.account a[href='/account/privacy']").click()
        WebDriverWait(browser, 10).until(lambda _: browser.find_element(By.ID, "grant-form"))
        fill({"grant-reason": "ticket 7"})
        submit("#grant-form", lambda: "Support may read this account" in browser.find_element(By.ID, "notice").text)
        browser.save_screenshot(os.path.join(SCREENSHOTS, "account-privacy.png"))
        browser.find_element(By.CSS_SELECTOR, "nav.account a[href='/account']").click()
        WebDriverWait(browser, 10).until(lambda _: browser.find_element(By.ID, "current-region"))

        # The keyboard reaches the navigation and the forms.
        reached = []
        for _ in range(8):
            browser.switch_to.active_element.send_keys(Keys.TAB)
            reached.append(browser.switch_to.active_element.get_attribute("href") or browser.switch_to.active_element.get_attribute("id"))
        assert any((href or "").endswith("/account/messages") for href in reached), reached

        # The second factor: the key from the page, a code computed here, ten recovery codes shown once.
        browser.find_element(By.CSS_SELECTOR, "nav.account a[href='/account/security']").click()
        WebDriverWait(browser, 10).until(lambda _: browser.find_element(By.ID, "totp-key"))
        key = browser.find_element(By.ID, "totp-key").text
        assert browser.find_element(By.ID, "totp-uri").get_attribute("href").startswith("otpauth://totp/")
        fill({"totp-code": totp(key)})
        submit("#second-factor-on", lambda: browser.find_element(By.ID, "recovery-codes"))
        codes = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "#recovery-codes code")]
        assert len(codes) == 10
        browser.save_screenshot(os.path.join(SCREENSHOTS, "account-recovery-codes.png"))

        # Signing in again asks for the second factor; a recovery code stands in for the app once.
        browser.get(f"http://127.0.0.1:{port}/account")
        submit("#sign-out", lambda: browser.find_element(By.ID, "sign-in"))
        fill({"email": OWNER, "password": PASSWORD})
        submit("#sign-in", lambda: browser.find_element(By.ID, "code-form"))
        fill({"code": codes[0]})
        submit("#code-form", lambda: browser.find_element(By.ID, "current-region"))

        # People: the owner invites a member; the link is shown once on the page.
        browser.find_element(By.CSS_SELECTOR, "nav.account a[href='/account/people']").click()
        WebDriverWait(browser, 10).until(lambda _: browser.find_element(By.ID, "invite-form"))
        fill({"invite-email": "member@globex.example"})
        submit("#invite-form", lambda: browser.find_element(By.ID, "invitations"))
        assert "/account/invitations/" in browser.find_element(By.ID, "notice").text
        assert {row.get_attribute("data-email") for row in browser.find_elements(By.CSS_SELECTOR, "#people tbody tr")} == {OWNER}
        browser.save_screenshot(os.path.join(SCREENSHOTS, "account-people.png"))

        # Readable at phone width: nothing wider than the screen but the tables, which scroll in their boxes.
        browser.set_window_size(390, 900)
        browser.get(f"http://127.0.0.1:{port}/account")
        WebDriverWait(browser, 10).until(lambda _: browser.find_element(By.ID, "current-region"))
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        browser.save_screenshot(os.path.join(SCREENSHOTS, "account-phone.png"))

        submit("#sign-out", lambda: browser.find_element(By.ID, "sign-in"))
    finally:
        browser.quit()
