"""The generic JSON REST source against a local JSON API (tests/json_api_server.py) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from integrations.connectors.base import ConnectorError, CrmRecord, RetryPolicy, SkippedRecord
from integrations.connectors.rest_json import REST_JSON, RestJsonConnector, rest_json_settings_problems
from integrations.http import connector_client
from integrations.matching import call_from_params, match_call
from integrations.models import PhoneCacheEntry
from integrations.services import (
    integration_create,
    integration_sample_records,
    integration_settings_clean,
    integration_test_connection,
)
from integrations.sync import phone_cache_sync
from tenants.models import Tenant
from tests.json_api_server import JsonApi, json_api_server, make_contacts

CONTACTS = 250  # 10 without numbers (every 25th), 25 with a mobile too (every 10th)
WITH_NUMBERS = 240
NUMBERS = 265

STYLES: dict[str, dict[str, str]] = {
    "cursor": {
        "list_path": "/cursor/contacts",
        "paging": "cursor",
        "page_param": "after",
        "size_param": "limit",
        "page_size": "40",
        "next_path": "paging.next.after",
        "records_path": "results",
    },
    "offset": {
        "list_path": "/offset/contacts",
        "paging": "offset",
        "page_size": "40",
        "records_path": "data",
    },
    "page": {"list_path": "/page/contacts", "paging": "page", "page_size": "50"},
    "next_link": {
        "list_path": "/nextlink/contacts?$top=45",
        "paging": "next_link",
        "next_path": "@odata.nextLink",
        "records_path": "value",
    },
    "link_header": {"list_path": "/linkheader/contacts", "paging": "link_header"},
}


def settings_for(api: JsonApi, style: str, **overrides: str) -> dict[str, str]:
    values = {
        "base_url": api.base_url,
        "auth_kind": "header",
        "api_key_name": "X-Api-Key",
        "secret": "secret-key",
        "id_path": "id",
        "name_paths": "first_name, last_name",
        "phone_paths": "phones[*].number",
        "record_url_template": "https://crm.example.com/contacts/{id}",
        "extra_fields": "Email=email, Company=company.name",
        **STYLES[style],
    }
    values.update(overrides)
    return values


@pytest.fixture
def api(allow_private_addresses: None) -> Iterator[JsonApi]:
    with json_api_server(JsonApi(make_contacts(CONTACTS))) as served:
        yield served


def connector(
    settings: dict[str, str], *, waits: list[float] | None = None, **kwargs: Any
) -> RestJsonConnector:
    return RestJsonConnector(
        settings=settings,
        client=connector_client(),
        sleep=(waits if waits is not None else []).append,
        retry=RetryPolicy(retries=3, backoff=1.0, max_retry_after=60),
        **kwargs,
    )


@pytest.mark.parametrize("style", sorted(STYLES))
def test_it_lists_every_record_with_numbers_over_several_pages(api: JsonApi, style: str) -> None:
    items = list(connector(settings_for(api, style)).iter_records())

    records = [item for item in items if isinstance(item, CrmRecord)]
    assert len(records) == len(items) == WITH_NUMBERS
    assert len({r.id for r in records}) == WITH_NUMBERS
    assert sum(len(r.phones) for r in records) == NUMBERS
    assert len(api.requests) > 4  # several pages
    first = next(r for r in records if r.id == "c0010")
    assert first.display_name == "First10 Last10"
    assert [(p.number, p.type) for p in first.phones] == [
        ("+31 20 555 0010", "number"),
        ("+31 6 1234 0010", "number"),
    ]
    assert first.url == "https://crm.example.com/contacts/c0010"
    assert first.fields == {
        "DisplayName": "First10 Last10",
        "Identifier": "c0010",
        "PopUpUri": "https://crm.example.com/contacts/c0010",
        "Email": "person10@example.com",
        "Company": "Company 3",
    }


def test_it_sends_the_api_key_and_the_paging_parameters(api: JsonApi) -> None:
    list(connector(settings_for(api, "cursor")).iter_records())

    assert api.requests[0] == ("/cursor/contacts", {"limit": "40"})
    assert api.requests[1][1]["limit"] == "40"
    assert api.requests[1][1]["after"]


def test_a_wrong_key_is_a_permanent_error_saying_so(api: JsonApi) -> None:
    with pytest.raises(ConnectorError) as caught:
        list(connector(settings_for(api, "cursor", secret="wrong")).iter_records())

    assert caught.value.permanent
    assert caught.value.message == "The REST API refused the credentials (HTTP 401)."


def test_it_waits_out_a_429_with_retry_after_and_goes_on(api: JsonApi) -> None:
    api.script.append((429, {"Retry-After": "7"}, {"error": "slow down"}))
    waits: list[float] = []

    items = list(connector(settings_for(api, "offset"), waits=waits).iter_records())

    assert len(items) == WITH_NUMBERS
    assert waits == [7.0]


def test_it_retries_a_503_once_with_backoff(api: JsonApi) -> None:
    api.script.append((503, {}, {"error": "down"}))
    waits: list[float] = []

    items = list(connector(settings_for(api, "page"), waits=waits).iter_records())

    assert len(items) == WITH_NUMBERS
    assert waits == [1.0]


def test_a_cursor_the_api_repeats_ends_the_listing_with_an_error(api: JsonApi) -> None:
    api.repeat_cursor = True
    for style in ("cursor", "offset", "next_link", "link_header"):
        api.requests.clear()
        with pytest.raises(ConnectorError, match="repeated a page cursor") as caught:
            list(connector(settings_for(api, style)).iter_records())
        assert not caught.value.permanent
        assert len(api.requests) <= 3, style


def test_the_request_budget_stops_the_listing(api: JsonApi) -> None:
    with pytest.raises(ConnectorError, match="SYNC_MAX_REQUESTS") as caught:
        list(connector(settings_for(api, "cursor"), max_requests=3).iter_records())

    assert caught.value.permanent
    assert len(api.requests) == 3


def test_a_record_without_an_id_or_not_an_object_is_skipped(api: JsonApi) -> None:
    api.contacts = [
        {"first_name": "No id", "phones": [{"number": "+31 20 555 0001"}]},
        "text",
        *make_contacts(3),
    ]

    items = list(connector(settings_for(api, "page")).iter_records())

    assert [type(i).__name__ for i in items] == [
        "SkippedRecord",
        "SkippedRecord",
        "CrmRecord",
        "CrmRecord",
        "CrmRecord",
    ]
    assert isinstance(items[0], SkippedRecord)
    assert items[0].reason == 'the record has no id at "id"'


def test_the_connection_test_checks_the_paths(api: JsonApi) -> None:
    connector(settings_for(api, "cursor")).test_connection()

    with pytest.raises(ConnectorError, match="none has a phone number at phone") as caught:
        connector(settings_for(api, "cursor", phone_paths="phone")).test_connection()
    assert caught.value.permanent
    with pytest.raises(ConnectorError, match='without a record list at "items"'):
        connector(settings_for(api, "cursor", records_path="items")).test_connection()


def test_bad_settings_are_named(api: JsonApi) -> None:
    problems = rest_json_settings_problems(
        settings_for(
            api, "cursor", next_path="", phone_paths="phones[x]", page_size="0", extra_fields="no path here="
        )
    )

    assert set(problems) == {"next_path", "phone_paths", "page_size", "extra_fields"}
    with pytest.raises(ConnectorError, match="JSON path of the next cursor") as caught:
        connector(settings_for(api, "cursor", next_path=""))
    assert caught.value.permanent


def test_the_settings_form_accepts_a_configuration(api: JsonApi) -> None:
    plain, secrets = integration_settings_clean(preset=REST_JSON, values=settings_for(api, "cursor"))

    assert secrets == {"secret": "secret-key"}
    assert plain["paging"] == "cursor"
    assert plain["phone_paths"] == "phones[*].number"
    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(
            preset=REST_JSON, values={**settings_for(api, "cursor"), "paging": "magic"}
        )
    assert "paging" in caught.value.message_dict


def test_the_sample_shows_the_first_records_as_cached(api: JsonApi) -> None:
    samples = integration_sample_records(
        preset=REST_JSON, settings_values=settings_for(api, "cursor"), limit=3
    )

    assert [s.id for s in samples] == ["c0000", "c0001", "c0002"]
    assert [(n.as_written, n.e164) for n in samples[0].numbers] == [
        ("+31 20 555 0000", "+31205550000"),
        ("+31 6 1234 0000", "+31612340000"),
    ]
    assert samples[1].fields["Company"] == "Company 1"
    assert len(api.requests) == 1
    integration_test_connection(preset=REST_JSON, settings_values=settings_for(api, "cursor"))


@pytest.mark.django_db
def test_it_syncs_end_to_end_and_matches_a_caller(api: JsonApi, tenant: Tenant) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="rest_json",
        name="Our CRM",
        settings_values=settings_for(api, "next_link"),
        start_sync=False,
    )
    api.script.append((429, {"Retry-After": "5"}, {"error": "busy"}))
    waits: list[float] = []

    result = phone_cache_sync(integration_id=integration.pk, sleep=waits.append)

    assert (result.status, result.records, result.numbers, result.skipped) == ("ok", WITH_NUMBERS, NUMBERS, 0)
    assert waits == [5.0]
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == NUMBERS
    answer = match_call(
        tenant=tenant, call=call_from_params(tenant=tenant, params={"caller_number": "0612340020"})
    )
    assert [m["notification"]["title"] for m in answer["matches"]] == ["First20 Last20"]
    assert answer["matches"][0]["record"]["url"] == "https://crm.example.com/contacts/c0020"


@pytest.mark.django_db
def test_a_failing_sync_keeps_the_old_cache_and_records_the_error(api: JsonApi, tenant: Tenant) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="rest_json",
        name="Our CRM",
        settings_values=settings_for(api, "cursor"),
        start_sync=False,
    )
    assert phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None).status == "ok"
    api.repeat_cursor = True

    result = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)

    assert result.status == "failed"
    assert "repeated a page cursor" in result.error
    integration.refresh_from_db()
    assert integration.cached_numbers == NUMBERS
    assert "repeated a page cursor" in integration.last_error


def test_the_settings_form_names_an_unusable_json_path(api: JsonApi) -> None:
    values = settings_for(api, "cursor", phone_paths="phones[first].number", next_path="")

    with pytest.raises(ValidationError) as caught:
        integration_settings_clean(preset=REST_JSON, values=values)

    assert set(caught.value.message_dict) == {"phone_paths", "next_path"}
    assert caught.value.message_dict["phone_paths"] == [
        'JSON paths of the phone numbers: "phones[first].number" is not a JSON path '
        "(like data.items or phones[*].number)."
    ]


@pytest.mark.django_db
def test_a_sync_over_the_request_budget_fails_cleanly(api: JsonApi, tenant: Tenant, settings: Any) -> None:
    integration = integration_create(
        tenant=tenant,
        preset_slug="rest_json",
        name="Our CRM",
        settings_values=settings_for(api, "page"),
        start_sync=False,
    )
    assert phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None).status == "ok"
    settings.SYNC_MAX_REQUESTS = 2

    noon = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(noon, tick=False):
        result = phone_cache_sync(integration_id=integration.pk, sleep=lambda s: None)

    assert result.status == "failed"
    assert "SYNC_MAX_REQUESTS" in result.error
    integration.refresh_from_db()
    assert integration.cached_numbers == NUMBERS
    assert PhoneCacheEntry.objects.filter(integration=integration).count() == NUMBERS
    assert integration.next_sync_at is not None
    assert integration.next_sync_at - noon > dt.timedelta(hours=10)  # the next night, not in minutes
