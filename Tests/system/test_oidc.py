"""Signing in to the dashboard through an OpenID Connect provider: a real one on loopback (django-oidc-provider,
Tests/system/oidc_provider_site.py, its own process and database), a coordinator configured with its issuer, client
id and secret file. The person signs in at the provider; the coordinator checks the RS256 ID token (signature
against the provider's keys, issuer, audience, expiry, nonce) and signs in the invited user with that verified
address. Someone the provider knows but no account invited is refused; so is an answer for another sign-in."""

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

from harness import MERIDIAN, ROOT, api, first_admin, free_port, wait_for
from test_account import join


def browser():
    """A cookie-keeping client that follows redirects, as a browser does."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def post(opener, url, fields):
    return opener.open(urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST"), timeout=20)


def test_sign_in_through_an_openid_connect_provider(tmp_path):
    work = str(tmp_path)
    port, provider_port = free_port(), free_port()
    callback = f"http://127.0.0.1:{port}/account/oidc/callback"
    provider = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "oidc_provider_site.py"), str(provider_port), work, callback],
        stdout=open(os.path.join(work, "provider.log"), "wb"), stderr=subprocess.STDOUT)
    coordinator = None
    try:
        wait_for(lambda: os.path.exists(os.path.join(work, "client.json")), timeout=60, what="the provider's set-up")
        client = json.load(open(os.path.join(work, "client.json")))
        secret_file = os.path.join(work, "oidc-secret")
        with open(secret_file, "w") as f:
            f.write(client["client_secret"] + "\n")
        os.chmod(secret_file, 0o600)
        data = os.path.join(work, "coordinator")
        coordinator = subprocess.Popen(
            [MERIDIAN, "coordinator", "--database", f"sqlite:{data}/c.sqlite", "--data-dir", data, "--port", str(port), "--node-port", str(free_port()),
             "--oidc-issuer", client["issuer"], "--oidc-client-id", client["client_id"], "--oidc-client-secret-file", secret_file,
             "--oidc-name", "Globex SSO", "--oidc-allow-http"],
            cwd=ROOT, stdout=open(os.path.join(work, "coordinator.log"), "wb"), stderr=subprocess.STDOUT)
        admin = first_admin(data, port)
        status, created = api(port, "POST", "/v1/customers", admin, {
            "name": "Globex", "contact_email": "ops@globex.example", "domains": ["globex.example"],
            "webhook": {"url": "https://hooks.globex.example/in", "mode": "sync"}})
        cid = created["customer"]["id"]
        status, invited = api(port, "POST", f"/v1/customers/{cid}/invitations", admin, {"email": "owner@globex.example", "role": "owner"})
        join(port, invited["url"], "Olive", "a password of hers")

        def sign_in(username):
            opener = browser()
            page = opener.open(f"http://127.0.0.1:{port}/account", timeout=10).read().decode()
            assert "Sign in with Globex SSO" in page
            csrf = re.search(r'id="oidc-form">\s*<input type="hidden" name="csrf" value="([^"]+)"', page).group(1)
            at_provider = post(opener, f"http://127.0.0.1:{port}/account/oidc/start", {"csrf": csrf})
            assert at_provider.url.startswith(f"http://127.0.0.1:{provider_port}/accounts/login/")
            form = at_provider.read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
            next_url = re.search(r'name="next" value="([^"]+)"', form).group(1).replace("&amp;", "&")
            try:
                answer = post(opener, at_provider.url, {"csrfmiddlewaretoken": token, "next": next_url, "username": username, "password": "provider password"})
                return answer.status, answer.url, answer.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, error.url, error.read().decode()

        status, url, page = sign_in("olive")
        assert status == 200 and url == f"http://127.0.0.1:{port}/account" and 'id="current-region"' in page, page[-2000:]
        assert "Olive" in page
        status, audit = api(port, "GET", "/v1/audit?limit=1000", admin)
        actions = [(e["action"], e["detail"].get("method")) for e in audit["items"]]
        assert ("account.user.oidc_link", None) in actions and ("account.sign_in", "oidc") in actions
        # The second time, the user is found by the provider's subject.
        status, url, page = sign_in("olive")
        assert 'id="current-region"' in page

        status, url, page = sign_in("stranger")
        assert status == 403 and "stranger@globex.example is not a user of any account here" in page

        # An answer that is not for this sign-in (a forged or replayed callback) is refused.
        opener = browser()
        try:
            opener.open(f"http://127.0.0.1:{port}/account/oidc/callback?code=abc&state=forged", timeout=10)
            assert False, "a callback without its sign-in must be refused"
        except urllib.error.HTTPError as error:
            assert error.code == 400 and "did not start here" in error.read().decode()
        log = open(os.path.join(work, "coordinator.log")).read()
        assert client["client_secret"] not in log
    finally:
        if coordinator:
            coordinator.kill()
        provider.kill()
