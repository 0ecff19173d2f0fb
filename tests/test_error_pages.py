"""Branded error pages with a way back, and the favicon."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", _boom)]


@pytest.mark.django_db
def test_a_missing_page_is_the_branded_404_with_a_way_back(admin_client: Client) -> None:
    response = admin_client.get("/no/such/page/")

    assert response.status_code == 404
    text = response.content.decode()
    assert "Page not found" in text
    assert 'href="/"' in text
    assert "app/favicon.svg" in text


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_is_the_branded_500_and_says_nothing_of_the_bug() -> None:
    client = Client(raise_request_exception=False)

    response = client.get("/boom/")

    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong" in text
    assert "a bug" not in text
    assert 'href="/"' in text


def test_the_favicon_is_served_at_the_address_browsers_ask_for(client: Client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("app/favicon.svg")
