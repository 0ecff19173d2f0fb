"""Every kind of match answer is exactly what the published OpenAPI schema says (issue 9 item 9).

The schema is the contract PBX integrators code against, so each answer shape the matching API can
give (a match, no match, several records under each multiple-matches policy, a main-number
fallback, an ignored or rejected caller, withheld, internal and empty callers, a 400) is validated
against `/api/schema/` with every object closed (`additionalProperties: false`): a key the code
answers but the schema does not describe fails here, as does a documented key that is missing or of
another type.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema_rs
import pytest
from django.core.cache import cache
from django.test import Client

from integrations.ignore_list import ignored_number_add
from integrations.models import Integration
from integrations.presets import ScriptApplies
from integrations.services import integration_set_number_reading, script_create
from integrations.several_matches import integration_set_multiple_matches
from tenants.models import Tenant
from tests.carddav_double import vcard
from tests.test_match_api import _synced

pytestmark = pytest.mark.django_db

URL = "/api/v1/match"


def _closed(node: Any) -> Any:
    """The OpenAPI 3.0 schema as JSON Schema: `nullable` as a null type, objects closed."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _closed(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


@pytest.fixture
def validator(db) -> Any:
    """Validates a body against an answer schema of the published document: `validator(body, status)`."""
    document = Client().get("/api/schema/", {"format": "json"}).json()
    root = _closed(copy.deepcopy(document))
    responses = document["paths"][URL]["get"]["responses"]

    def validate(body: Any, status: int) -> None:
        ref = responses[str(status)]["content"]["application/json"]["schema"]
        jsonschema_rs.Draft202012Validator({**root, **_closed(ref)}).validate(body)

    return validate


@pytest.fixture(autouse=True)
def _clear_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def crm(tenant: Tenant) -> Integration:
    crm = _synced(
        tenant,
        "Sales CRM",
        {
            "jan.vcf": vcard("jan-1", "Jan Jansen", "work:+31 (0)20 123 4567", org="Acme BV"),
            "desk.vcf": vcard("desk-1", "Front desk", "work:+31 20 555 0100", org="Acme BV"),
            "ann.vcf": vcard("ann-1", "Ann de Wit", "work:+31 20 555 0100", org="Acme BV"),
        },
    )
    script_create(
        tenant=tenant,
        integration=None,
        name="Google",
        template="https://www.google.nl?q=#(Caller number)",
        applies=ScriptApplies.ALWAYS,
    )
    return crm


def _answer(key: str, **params: str) -> tuple[int, Any]:
    response = Client().get(URL, params, HTTP_AUTHORIZATION=f"Api-Key {key}")
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "caller", ["020 123 4567", "06 9999 9999", "anonymous", "201", "", "tel:+31201234567;ext=12"]
)
def test_each_kind_of_caller_is_answered_as_the_schema_says(api_key, crm, validator, caller) -> None:
    status, body = _answer(api_key[1], caller_number=caller)

    assert status == 200
    validator(body, 200)


@pytest.mark.parametrize("policy", ["all", "first", "choose"])
def test_several_records_under_each_policy_are_answered_as_the_schema_says(
    tenant, api_key, crm, validator, policy
) -> None:
    integration_set_multiple_matches(tenant=tenant, integration=crm, policy=policy)

    status, body = _answer(api_key[1], caller_number="+31 20 555 0100")

    assert status == 200
    validator(body, 200)
    assert (len(body["matches"]), len(body["choose"])) == {"all": (2, 0), "first": (1, 0), "choose": (0, 1)}[
        policy
    ]


def test_a_main_number_fallback_is_answered_as_the_schema_says(tenant, api_key, crm, validator) -> None:
    integration_set_number_reading(tenant=tenant, integration=crm, region="", fallback_to_main_number=True)

    status, body = _answer(api_key[1], caller_number="+31 20 555 0100 12".replace(" ", ""))

    assert status == 200
    validator(body, 200)
    assert body["matches"]
    assert all(match["fallback"] for match in body["matches"])


@pytest.mark.parametrize("action", ["ignore", "reject"])
def test_an_ignored_caller_is_answered_as_the_schema_says(tenant, api_key, crm, validator, action) -> None:
    ignored_number_add(tenant=tenant, number="020 123 4567", action=action)

    status, body = _answer(api_key[1], caller_number="020 123 4567")

    assert status == 200
    validator(body, 200)
    assert (body["ignored"], body["ignore_action"]) == (True, action)


def test_bad_parameters_are_answered_as_the_schema_says(api_key, crm, validator) -> None:
    status, body = _answer(api_key[1], caller_number="hello", direction="sideways")

    assert status == 400
    validator(body, 400)


def test_the_check_is_strict_an_undocumented_key_fails(api_key, crm, validator) -> None:
    _status, body = _answer(api_key[1], caller_number="020 123 4567")

    with pytest.raises(jsonschema_rs.ValidationError):
        validator({**body, "surprise": 1}, 200)
    with pytest.raises(jsonschema_rs.ValidationError):
        validator({key: value for key, value in body.items() if key != "ignored"}, 200)
