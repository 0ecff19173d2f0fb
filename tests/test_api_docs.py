"""The published docs of the matching API (/api/schema/, shown by Swagger UI at /api/docs/): every
parameter and answer field is described, parameters and answers have examples, and the examples
are what the API accepts and answers."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from django.test import Client

from integrations.matching import CALL_PARAMETERS
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.test_match_answers_follow_the_schema import URL, _closed

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(db: None) -> dict[str, Any]:
    """The OpenAPI document as the docs page loads it."""
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _undescribed(schema: dict[str, Any], components: dict[str, Any], path: str, seen: set[str]) -> list[str]:
    """The properties under `schema` (following $refs) that have no description."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return _undescribed(components[name], components, path, seen | {name})
    missing = []
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            missing += _undescribed(part, components, path, seen)
    if "items" in schema:
        missing += _undescribed(schema["items"], components, f"{path}[]", seen)
    for name, prop in schema.get("properties", {}).items():
        if not prop.get("description"):
            missing.append(f"{path}.{name}")
        missing += _undescribed(prop, components, f"{path}.{name}", seen)
    return missing


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_answer_field_is_described(document: dict[str, Any], method: str) -> None:
    components = document["components"]["schemas"]
    for status, response in document["paths"][URL][method]["responses"].items():
        schema = response["content"]["application/json"]["schema"]
        assert _undescribed(schema, components, status, set()) == []


def test_every_parameter_is_described_with_an_example(document: dict[str, Any]) -> None:
    get = document["paths"][URL]["get"]
    query = {p["name"]: p for p in get["parameters"] if p["in"] == "query"}
    assert set(query) == set(CALL_PARAMETERS)
    for name, parameter in query.items():
        assert parameter["description"], name
        assert [example["value"] for example in parameter["examples"].values()], name
    body = document["paths"][URL]["post"]["requestBody"]["content"]["application/json"]["schema"]
    for name, prop in body["properties"].items():
        assert prop["description"], name
        assert prop["example"], name


def test_the_parameter_examples_are_accepted_and_the_answer_example_follows_the_schema(
    document: dict[str, Any], tenant: Tenant
) -> None:
    _, key = api_key_create(tenant=tenant, name="Docs")
    get = document["paths"][URL]["get"]
    example_call = {
        p["name"]: next(iter(p["examples"].values()))["value"]
        for p in get["parameters"]
        if p["in"] == "query"
    }
    response = Client().get(URL, example_call, HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200, response.json()
    assert response.json()["call"]["caller_number_e164"] == example_call["caller_number"]

    root = _closed(document)
    for method in ("get", "post"):
        answer = get if method == "get" else document["paths"][URL]["post"]
        content = answer["responses"]["200"]["content"]["application/json"]
        examples = [example["value"] for example in content["examples"].values()]
        assert examples
        for value in examples:
            jsonschema_rs.Draft202012Validator({**root, **_closed(content["schema"])}).validate(value)
