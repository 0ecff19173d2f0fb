"""Machine endpoints skip the UI's middleware (configurator/middleware.py; issue 10, item 2).

The match API and the PBX event URLs answer without a session, a language, a CSRF check or a
Content-Security-Policy; every other page keeps all of them.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from configurator.middleware import CSPMiddleware, LocaleMiddleware, is_machine_path
from integrations.pbx.services import pbx_sender_create
from tenants.models import Tenant, TenantAPIKey


def test_the_match_api_and_pbx_event_urls_are_machine_paths_and_the_pages_are_not() -> None:
    assert is_machine_path("/api/v1/match")
    assert is_machine_path("/pbx/zammad/any-token/")
    assert not is_machine_path("/pbx/")  # the "Connect your PBX" page
    assert not is_machine_path("/api/docs/")  # Swagger UI: a page with scripts, CSP needed
    assert not is_machine_path("/")
    assert not is_machine_path("/no/such/page/")  # gets the branded 404 with the full frame


@pytest.mark.django_db
def test_a_match_answer_carries_no_cookie_no_csp_and_stays_english(
    tenant: Tenant, api_key: tuple[TenantAPIKey, str]
) -> None:
    _, key = api_key
    response = Client().get(
        "/api/v1/match",
        {"caller_number": "0201234567"},
        HTTP_AUTHORIZATION=f"Api-Key {key}",
        HTTP_ACCEPT_LANGUAGE="nl",
        HTTP_COOKIE="django_language=nl",
    )

    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    assert response.cookies == {}
    assert "Accept-Language" not in response.headers.get("Vary", "")
    assert "Cookie" not in response.headers.get("Vary", "")
    assert response.headers["X-Frame-Options"] == "DENY"  # the security headers stay
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.json()["matches"] == []


@pytest.mark.django_db
def test_a_refused_key_is_still_refused_in_english_on_the_lean_path(tenant: Tenant) -> None:
    response = Client().get(
        "/api/v1/match",
        {"caller_number": "0201234567"},
        HTTP_AUTHORIZATION="Api-Key nope",
        HTTP_ACCEPT_LANGUAGE="nl",
    )

    assert response.status_code in (401, 403)
    assert "content-security-policy" not in response.headers
    assert "API key" in response.json()["detail"] or "credentials" in response.json()["detail"]


@pytest.mark.django_db
def test_a_pbx_event_skips_the_ui_middleware(tenant: Tenant) -> None:
    sender = pbx_sender_create(tenant=tenant, format_slug="zammad", name="Zammad PBX")
    url = reverse("pbx-event", kwargs={"format_slug": "zammad", "token": sender.token})
    body = urlencode(
        {"event": "newCall", "from": "31201234567", "to": "31207654321", "direction": "in", "callId": "c1"}
    )
    response = Client().post(
        url, body, content_type="application/x-www-form-urlencoded", HTTP_ACCEPT_LANGUAGE="nl"
    )

    assert response.status_code == 200
    assert response.json() == {}
    assert "content-security-policy" not in response.headers
    assert response.cookies == {}


@pytest.mark.django_db
def test_pages_keep_the_ui_middleware(admin_client: Client) -> None:
    response = admin_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="nl")

    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.wsgi_request.LANGUAGE_CODE == "nl"
    assert response.wsgi_request.user.is_authenticated
    # The sign-in form still gets its CSRF cookie.
    sign_in = Client(enforce_csrf_checks=True).get(reverse("login"))
    assert "csrftoken" in sign_in.cookies


@pytest.mark.django_db
def test_csrf_still_protects_a_page_posted_without_a_token(admin_client: Client) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = admin_client.cookies

    response = strict.post(reverse("api-keys"), {"name": "Sneaky"})

    assert response.status_code == 403


def test_a_wrapper_offers_django_only_the_hooks_the_wrapped_middleware_has() -> None:
    def page(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    locale = LocaleMiddleware(page)
    csp = CSPMiddleware(page)

    assert not hasattr(locale, "process_view")
    assert not hasattr(locale, "process_exception")
    # Machine path: the wrapped middleware never sees the request (no language set).
    machine = RequestFactory().get("/api/v1/match")
    assert locale(machine).content == b"ok"
    assert not hasattr(machine, "LANGUAGE_CODE")
    ui = RequestFactory().get("/")
    assert csp(ui).headers.get("Content-Security-Policy")
    assert not csp(RequestFactory().get("/api/v1/match")).headers.get("Content-Security-Policy")


@pytest.mark.django_db
def test_a_language_left_active_in_the_thread_does_not_reach_a_machine_answer(
    tenant: Tenant, api_key: tuple[TenantAPIKey, str]
) -> None:
    from django.utils import translation

    translation.activate("nl")  # as a Dutch page served earlier by this thread would leave it
    try:
        response = Client().get(
            "/api/v1/match", {"caller_number": "abc"}, HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}"
        )
    finally:
        translation.activate("en")

    assert response.status_code == 400
    assert "Bad call parameters" in response.json()["detail"]
    assert is_machine_path("/api/v1/catalog")
