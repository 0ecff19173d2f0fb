"""HTTP hardening (issue 5, finding 6): CSP, HSTS, secure cookies, and what `check --deploy` says.

Before: no Content-Security-Policy, no HSTS, cookies without `Secure`, and `check --deploy` raised
W004 (HSTS), W008 (SSL redirect), W012 (session cookie), W016 (CSRF cookie).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

BASE_DIR = Path(__file__).resolve().parent.parent
TEMPLATES = BASE_DIR / "templates"
FERNET_KEY = "6fEWhnBpIYtYuE3uE5wqQwGy3F_cvxT2eSjUBmj7Rsg="
SETTINGS = "configurator.settings"  # the production settings module, not the tests'


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize("url", ["/login/", "/", "/integrations/add/", "/api/docs/"])
def test_pages_carry_a_csp_without_inline_script(admin_client: Client, url: str) -> None:
    response = (Client() if url == "/login/" else admin_client).get(url)

    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_api_docs_script_is_served_from_its_own_url(db: None, client: Client) -> None:
    page = client.get("/api/docs/")
    script_urls = re.findall(r'<script src="([^"]+)"', page.text)

    assert "<script>" not in page.text
    assert "<style>" not in page.text
    own = [url for url in script_urls if "script=" in url]
    assert own
    script = client.get(own[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.text


def test_no_template_has_inline_script_handlers_or_styles() -> None:
    offenders = []
    patterns = (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"\sstyle\s*=", r"<style", "javascript:")
    for template in TEMPLATES.rglob("*.html"):
        text = re.sub(r"{#.*?#}|{% comment %}.*?{% endcomment %}", "", template.read_text(), flags=re.DOTALL)
        for pattern in patterns:
            if re.search(pattern, text, re.IGNORECASE):
                offenders.append(f"{template.relative_to(BASE_DIR)}: {pattern}")
    assert offenders == []


def test_https_requests_get_hsts_and_cookies_are_secure(tenant, client: Client) -> None:
    response = client.post(
        reverse("login"), {"username": "admin", "password": "correct-horse-battery-staple"}, secure=True
    )

    assert response.status_code == 302
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response.cookies["sessionid"]["secure"]
    assert response.cookies["sessionid"]["httponly"]
    assert response.cookies["csrftoken"]["secure"]


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_when_the_redirect_is_on(client: Client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True

    response = client.get(reverse("login"))

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"


def run_manage(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """manage.py `args` in a fresh interpreter whose settings see exactly `env` (no .env file)."""
    code = (
        "import environ, json, sys\n"
        "environ.Env.read_env = classmethod(lambda cls, *a, **k: None)\n"
        f"environ.Env.ENVIRON = json.loads({json.dumps(json.dumps(env))})\n"
        "from django.core.management import execute_from_command_line\n"
        f"execute_from_command_line(['manage.py', *{args!r}])\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": SETTINGS},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_leaves_only_the_hsts_preload_warning(tmp_path: Path) -> None:
    env = {
        "SECRET_KEY": "k3y-" + "x9Qz" * 15,
        "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
        "VAR_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "cti.example.com",
    }

    result = run_manage(["check", "--deploy"], env, tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    security = set(re.findall(r"\((security\.[WE]\d+)\)", output))
    # Preload is opt-in (SECURE_HSTS_PRELOAD=true): it is hard to undo and binds every subdomain.
    assert security == {"security.W021"}


def test_the_make_run_overrides_allow_plain_http_and_check_deploy_names_them(tmp_path: Path) -> None:
    env = {
        "SECRET_KEY": "k3y-" + "x9Qz" * 15,
        "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
        "VAR_DIR": str(tmp_path),
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
    }

    result = run_manage(["check", "--deploy"], env, tmp_path)

    security = set(re.findall(r"\((security\.[WE]\d+)\)", result.stdout + result.stderr))
    assert security == {"security.W008", "security.W012", "security.W016", "security.W021"}
