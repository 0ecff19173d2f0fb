"""One call contract (issue 9 item 9): the call's properties are declared once
(`scripts_engine.CALL_PROPERTIES`) and the matching API, the PBX adapters, the call log, server-run
scripts and the template engine all read and write calls through `integrations.calls`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import jsonschema_rs
import pytest
import time_machine
from django.test import Client

import scripts_engine
from integrations import api, matching
from integrations.calls import (
    CALL_PARAMETERS,
    Call,
    CallInputError,
    CallSerializer,
    call_from_params,
    max_length,
)
from integrations.pbx.services import pbx_sender_create
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

URL = "/api/v1/match"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def schema(db: None) -> dict[str, Any]:
    document: dict[str, Any] = Client().get("/api/schema/", {"format": "json"}).json()
    return document


def _component(schema: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """The component a `$ref` (or drf-spectacular's `allOf: [$ref]` with a description) names."""
    target = ref["$ref"] if "$ref" in ref else ref["allOf"][0]["$ref"]
    component: dict[str, Any] = schema["components"]["schemas"][target.rsplit("/", 1)[1]]
    return component


def test_the_api_parameters_are_exactly_the_template_languages_call_properties(schema):
    declared = {prop.attribute for prop in scripts_engine.CALL_PROPERTIES}
    operation = schema["paths"][URL]
    query = {p["name"] for p in operation["get"]["parameters"] if p["in"] == "query"}
    body = operation["post"]["requestBody"]["content"]["application/json"]["schema"]

    assert set(CALL_PARAMETERS) == declared
    assert query == declared
    assert set(body["properties"]) == declared
    assert body["additionalProperties"] is False
    for prop in scripts_engine.CALL_PROPERTIES:
        (parameter,) = (p for p in operation["get"]["parameters"] if p["name"] == prop.attribute)
        assert parameter["description"] == prop.description
        assert parameter["schema"]["maxLength"] == prop.max_length == max_length(prop.attribute)
        assert body["properties"][prop.attribute]["description"] == prop.description


def test_the_answers_call_object_is_the_declared_properties_plus_how_the_number_was_read(schema):
    answer = _component(
        schema, schema["paths"][URL]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    call = _component(schema, answer["properties"]["call"])

    assert set(call["properties"]) == set(CALL_PARAMETERS) | {
        "caller_number_e164",
        "anonymous",
        "caller_kind",
        "caller_extension",
    }
    assert {f.name for f in dataclasses.fields(Call)} == set(call["properties"])
    # An answer's direction may be empty (not sent); a request's may not.
    direction = jsonschema_rs.Draft202012Validator({**schema, **call["properties"]["direction"]})
    assert [direction.is_valid(v) for v in ("", "in", "out")] == [True, True, True]
    assert not direction.is_valid("sideways")
    assert call["properties"]["start_time"]["format"] == "date-time"
    # The public description is for integrators, not the serializer's developer notes.
    assert "CallSerializer" not in call.get("description", "")


def test_every_call_property_reaches_the_template_engine(tenant: Tenant):
    params = {prop.attribute: prop.example for prop in scripts_engine.CALL_PROPERTIES}
    call = call_from_params(tenant=tenant, params=params)
    properties = call.properties()

    for prop in scripts_engine.CALL_PROPERTIES:
        template = scripts_engine.parse(f"https://x.example/?v=#({prop.name})")
        rendered = scripts_engine.render(template, call=properties, country="NL")
        assert rendered is not None
        value = rendered.split("?v=", 1)[1]
        if prop.kind == "text":
            assert value == prop.example.replace(" ", "%20"), prop.name
        else:
            assert value, prop.name


@pytest.mark.parametrize(
    "params",
    [
        {"caller_number": "020 123 4567", "direction": "IN", "call_id": "a-1", "device_number": "201"},
        {"caller_number": "tel:+31-20-123-4567;ext=12", "caller_name": "Acme"},
        {"caller_number": "anonymous", "start_time": "1763719200"},
        {"caller_number": "201", "ddi_number": "+31207654321", "ddi_name": "Sales"},
        {"caller_number": ""},
    ],
)
def test_a_call_survives_the_log_round_trip(tenant: Tenant, params):
    with time_machine.travel(dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC), tick=False):
        call = call_from_params(tenant=tenant, params=params)

    again = Call.from_json(call.as_json())

    assert again == call
    assert again.properties() == call.properties()


def test_call_from_params_and_the_serializer_give_the_same_call_and_the_same_errors(tenant: Tenant):
    good = {"caller_number": "+31 20 123 4567", "direction": "out", "start_time": "2026-11-21T10:15:00Z"}
    serializer = CallSerializer(data=good, context={"tenant": tenant})
    assert serializer.is_valid(), serializer.errors
    assert serializer.save() == call_from_params(tenant=tenant, params=good)

    bad = {"caller_number": "abc$", "direction": "sideways", "start_time": "yesterday", "colour": "red"}
    serializer = CallSerializer(data=bad, context={"tenant": tenant})
    assert not serializer.is_valid()
    with pytest.raises(CallInputError) as raised:
        call_from_params(tenant=tenant, params=bad)
    assert (
        set(serializer.errors)
        == set(raised.value.errors)
        == {"caller_number", "direction", "start_time", "colour"}
    )
    assert raised.value.errors["colour"] == "unknown parameter"


def test_a_pbx_adapter_refuses_a_bad_caller_with_the_apis_own_words(tenant: Tenant, api_key):
    _, key = api_key
    sender = pbx_sender_create(tenant=tenant, format_slug="zammad", name="Zammad PBX")
    bad_number = "12!!34"

    api_answer = Client().get(URL, {"caller_number": bad_number}, HTTP_AUTHORIZATION=f"Api-Key {key}")
    pbx_answer = Client().post(
        f"/pbx/zammad/{sender.token}/",
        f"event=newCall&from={bad_number}&to=4930&direction=in&callId=7",
        content_type=FORM,
    )

    assert api_answer.status_code == 400
    assert 400 <= pbx_answer.status_code < 500
    words = api_answer.json()["errors"]["caller_number"]
    assert words in pbx_answer.json()["error"]


def test_the_api_sends_only_what_the_answer_serializer_declares(tenant: Tenant, api_key, monkeypatch):
    _, key = api_key
    real = matching.match_call_for_event

    def with_an_undeclared_key(**kwargs: Any) -> Any:
        answer, scripts = real(**kwargs)
        answer["internal_debug"] = {"sql": "SELECT …"}
        answer["call"]["caller_secret"] = "x"
        return answer, scripts

    monkeypatch.setattr(api, "match_call_for_event", with_an_undeclared_key)
    body = Client().get(URL, {"caller_number": "+31201234567"}, HTTP_AUTHORIZATION=f"Api-Key {key}").json()

    assert "internal_debug" not in body
    assert "caller_secret" not in body["call"]
    assert body["call"]["caller_number_e164"] == "+31201234567"


def test_serializers_sharing_their_fields_keep_no_state_between_calls_or_threads(tenant: Tenant):
    # CallSerializer builds its fields once per class (SharedFieldsSerializer); what one call's
    # validation learns must never reach another call, in this thread or another.
    from concurrent.futures import ThreadPoolExecutor

    cases = [
        ({"caller_number": f"+3120123{i:04d}", "call_id": f"c{i}"}, f"+3120123{i:04d}") for i in range(40)
    ] + [({"caller_number": "12!!34", "call_id": f"bad{i}"}, None) for i in range(40)]

    def read(case: tuple[dict[str, str], str | None]) -> tuple[str | None, str | None]:
        params, _ = case
        try:
            call = call_from_params(tenant=tenant, params=params)
        except CallInputError as exc:
            return None, exc.errors.get("caller_number")
        return call.caller_number_e164, call.call_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(read, cases * 5))

    for (params, e164), (got, detail) in zip(cases * 5, results, strict=True):
        if e164 is None:
            assert got is None
            assert detail is not None
            assert "12!!34" in detail
        else:
            assert (got, detail) == (e164, params["call_id"])
