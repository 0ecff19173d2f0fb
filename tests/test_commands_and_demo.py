"""The provider command line, and the demo `make run` seeds, end to end against a real Radicale."""

from __future__ import annotations

import json
import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from integrations.models import Integration, Script
from tenants.models import Tenant, TenantAPIKey, TenantMembership


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_provider_creates_a_tenant_with_its_admin_and_an_api_key():
    out = run(
        "tenant_create",
        "--name",
        "Initech",
        "--country",
        "DE",
        "--time-zone",
        "Europe/Berlin",
        "--admin-username",
        "peter",
        "--admin-password",
        "tps-report-2026",
    )
    assert "Initech" in out
    tenant = Tenant.objects.get(name="Initech")
    assert (tenant.country, tenant.time_zone) == ("DE", "Europe/Berlin")
    assert TenantMembership.objects.get(user__username="peter").is_tenant_admin

    key = run("apikey_create", "--tenant", "Initech", "--name", "Asterisk").strip()

    api_key = TenantAPIKey.objects.get(tenant=tenant)
    assert key.startswith(api_key.prefix + ".")
    assert key not in api_key.hashed_key
    assert (
        Client()
        .get("/api/v1/match", {"caller_number": "030 1234567"}, HTTP_AUTHORIZATION=f"Api-Key {key}")
        .status_code
        == 200
    )


@pytest.mark.django_db
def test_tenant_create_refuses_an_unknown_country_with_a_clear_error():
    with pytest.raises(CommandError, match="not a country code"):
        run(
            "tenant_create",
            "--name",
            "X",
            "--country",
            "XX",
            "--admin-username",
            "x",
            "--admin-password",
            "y",
        )
    assert not Tenant.objects.filter(name="X").exists()


def test_integration_add_creates_a_pop_only_preset_with_its_script(tenant):
    out = run(
        "integration_add",
        "--tenant",
        "Acme",
        "--preset",
        "efecte_esm",
        "--setting",
        "base_url=https://efecte.acme.example",
        "--setting",
        "path=efecte",
    )

    integration = Integration.objects.get(tenant=tenant, preset="efecte_esm")
    assert str(integration.pk) in out
    [script] = Script.objects.filter(integration=integration)
    assert (
        script.template
        == "https://efecte.acme.example/efecte/Frameset.do?a=cti/actions/#(Caller number:e164)"
    )


def test_integration_add_explains_bad_settings(tenant):
    with pytest.raises(CommandError, match="ESM address: enter a full http"):
        run("integration_add", "--tenant", "Acme", "--preset", "efecte_esm", "--setting", "base_url=efecte")
    with pytest.raises(CommandError, match="Unknown preset"):
        run("integration_add", "--tenant", "Acme", "--preset", "nosuchcrm")
    assert not Integration.objects.exists()


@pytest.mark.usefixtures("allow_private_addresses")  # its CRM is on 127.0.0.1
def test_integration_add_refuses_a_crm_that_fails_the_connection_test(tenant):
    # A bound socket that does not listen: connections to its port are refused, for certain.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with pytest.raises(CommandError, match="Connection test failed: The CardDAV server"):
            run(
                "integration_add",
                "--tenant",
                "Acme",
                "--preset",
                "carddav",
                "--setting",
                f"url=http://127.0.0.1:{port}/dav/",
            )
    assert not Integration.objects.exists()


@pytest.mark.parametrize("url", ["http://[::1", "http://exa mple.com/dav/", "ftp://example.com/", "http://"])
def test_integration_add_explains_a_malformed_url_before_any_connection_test(tenant, url):
    with pytest.raises(CommandError, match="Address book URL: enter a full http"):
        run("integration_add", "--tenant", "Acme", "--preset", "carddav", "--setting", f"url={url}")
    assert not Integration.objects.exists()


def test_the_match_command_prints_the_same_json_as_the_api(tenant, api_key):
    run("integration_add", "--tenant", "Acme", "--preset", "web_search")

    printed = json.loads(run("match", "--tenant", "Acme", "020 123 4567", "--start-time", "1763719200"))
    answered = (
        Client()
        .get(
            "/api/v1/match",
            {"caller_number": "020 123 4567", "start_time": "1763719200"},
            HTTP_AUTHORIZATION=f"Api-Key {api_key[1]}",
        )
        .json()
    )

    assert printed == answered
    assert printed["actions"][0]["url"] == "https://www.google.nl?q=0201234567"


def test_the_match_command_rejects_a_malformed_number(tenant):
    with pytest.raises(CommandError, match="caller_number"):
        run("match", "--tenant", "Acme", "not a number")


@pytest.mark.usefixtures("allow_private_addresses")  # its CRM is on 127.0.0.1
@pytest.mark.django_db(transaction=True)
def test_the_demo_matches_its_caller_across_notations_against_a_real_carddav_server(radicale_server):
    url = radicale_server.address_book_url("alice", "demo")
    user, password = radicale_server.auth("alice")

    out = run("demo_setup", "--carddav-url", url, "--carddav-username", user, "--carddav-password", password)

    key = json.loads(out.strip().splitlines()[-1])["api_key"]
    integration = Integration.objects.get(tenant__name="Demo BV", preset="carddav")
    assert integration.cached_numbers >= 200
    assert integration.last_sync_skipped == 2  # the two deliberately broken cards
    body = (
        Client()
        .get("/api/v1/match", {"caller_number": "0201234567"}, HTTP_AUTHORIZATION=f"Api-Key {key}")
        .json()
    )
    [match] = body["matches"]
    assert match["notification"]["title"] == "Jan Jansen"
    assert match["record"]["phone"]["number"] == "+31 (0)20 123 4567"
    assert match["actions"][0]["url"].startswith(url)
    assert body["actions"][0]["url"] == "https://www.google.nl?q=0201234567"

    # Running it again (a second `make run`) keeps one tenant and revokes the old demo key.
    out = run("demo_setup", "--carddav-url", url, "--carddav-username", user, "--carddav-password", password)
    new_key = json.loads(out.strip().splitlines()[-1])["api_key"]
    assert Tenant.objects.filter(name="Demo BV").count() == 1
    assert (
        Client()
        .get("/api/v1/match", {"caller_number": "0201234567"}, HTTP_AUTHORIZATION=f"Api-Key {key}")
        .status_code
        == 401
    )
    assert (
        Client()
        .get("/api/v1/match", {"caller_number": "0201234567"}, HTTP_AUTHORIZATION=f"Api-Key {new_key}")
        .status_code
        == 200
    )


def test_integration_add_refuses_live_lookup_for_a_preset_that_cannot_search_and_creates_nothing(tenant):
    with pytest.raises(CommandError, match="cannot be searched by phone number"):
        run(
            "integration_add", "--tenant", "Acme", "--preset", "carddav", "--no-test", "--lookup", "live",
            "--setting", "url=https://dav.example.com/book/",
        )  # fmt: skip
    assert not Integration.objects.exists()


def test_integration_add_sets_live_lookup_where_the_preset_can_search(tenant):
    out = run(
        "integration_add", "--tenant", "Acme", "--preset", "rest_json", "--no-test", "--lookup", "live",
        "--setting", "base_url=https://crm.example.com", "--setting", "list_path=/contacts",
        "--setting", "records_path=data", "--setting", "id_path=id", "--setting", "name_paths=name",
        "--setting", "phone_paths=phone", "--setting", "lookup_path=/contacts/search?phone={number}",
    )  # fmt: skip

    integration = Integration.objects.get()
    assert integration.lookup_mode == "live"
    assert f"Created integration {integration.pk}" in out
