"""A real OpenID Connect provider on loopback for the dashboard's sign-in test: django-oidc-provider (PyPI) in a
Django site of its own, run as its own process. Usage: oidc_provider_site.py PORT WORKDIR REDIRECT_URI; it writes
WORKDIR/client.json ({client_id, client_secret, issuer}) and serves until killed. Users: olive (owner@globex.example)
and stranger (stranger@globex.example), password "provider password"."""

import json
import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

import django
from django.conf import settings

PORT, WORK, REDIRECT = int(sys.argv[1]), sys.argv[2], sys.argv[3]
PASSWORD = "provider password"

settings.configure(
    DEBUG=False, SECRET_KEY="oidc-test-only", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, USE_TZ=True,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "oidc_provider"],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(WORK, "provider.sqlite")}},
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {}}],
    SITE_URL=f"http://127.0.0.1:{PORT}", LOGIN_URL="/accounts/login/", OIDC_USERINFO=__name__ + ".userinfo",
    OIDC_IDTOKEN_INCLUDE_CLAIMS=True,
)
django.setup()

from django.contrib.auth import authenticate, login  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpResponse, HttpResponseRedirect  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils.html import escape  # noqa: E402


def userinfo(claims, user):
    claims["email"] = user.email
    claims["email_verified"] = True
    return claims


def login_view(request):
    """The provider's own sign-in form (what a person sees at Google or Keycloak)."""
    next_url = request.POST.get("next") or request.GET.get("next", "/")
    if request.method == "POST":
        user = authenticate(request, username=request.POST.get("username"), password=request.POST.get("password"))
        if user is not None:
            login(request, user)
            return HttpResponseRedirect(next_url)
    return HttpResponse(
        f'<form method="post" id="provider-login"><input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
        f'<input type="hidden" name="next" value="{escape(next_url)}"><input name="username"><input name="password" type="password">'
        "<button>Sign in</button></form>")


urlpatterns = [path("accounts/login/", login_view), path("openid/", include("oidc_provider.urls", namespace="oidc_provider"))]

if __name__ == "__main__":
    from oidc_provider.models import Client, ResponseType

    call_command("migrate", verbosity=0)
    call_command("creatersakey")
    User.objects.create_user("olive", "owner@globex.example", PASSWORD)
    User.objects.create_user("stranger", "stranger@globex.example", PASSWORD)
    client = Client.objects.create(
        name="Meridian", client_type="confidential", client_id="meridian-test", client_secret="s3cret-of-the-client", jwt_alg="RS256",
        require_consent=False, redirect_uris=[REDIRECT])
    client.response_types.add(ResponseType.objects.get(value="code"))
    with open(os.path.join(WORK, "client.json"), "w") as f:
        json.dump({"client_id": client.client_id, "client_secret": client.client_secret, "issuer": f"http://127.0.0.1:{PORT}/openid"}, f)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    from django.core.handlers.wsgi import WSGIHandler
    make_server("127.0.0.1", PORT, WSGIHandler(), handler_class=Quiet).serve_forever()
