"""The matching API for PBXs: `GET`/`POST /api/v1/match`, authenticated by a tenant API key.

Every input gets a 2xx or a 4xx with a JSON `detail` (and `errors` per parameter for bad call
parameters), never a 500: bodies are bounded and parsed strictly (`api_parsers`), parameters are
validated in `matching.call_from_params`, and repeated bad keys from one address get 429
(`api_key_failures`). The OpenAPI schema states the same limits (maxLength, pattern, security).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import live as agents_live
from integrations import api_key_failures, journal
from integrations.api_key_cache import api_key_remember, api_key_remembered
from integrations.api_parsers import (
    JSONOnlyNegotiation,
    LimitedFormParser,
    LimitedJSONParser,
    SafeJSONRenderer,
    max_body_bytes,
    max_json_depth,
    parse_query_string,
)
from integrations.calls import (
    CALL_PROPERTIES_BY_PARAMETER,
    CallInputError,
    CallSerializer,
    SharedFieldsSerializer,
    call_from_params,
    parameter_schema,
)
from integrations.journal import API_SENDER
from integrations.matching import match_call_for_event
from integrations.models import CallEvent
from integrations.server_scripts import server_scripts_queue
from tenants.models import TenantAPIKey

KEYWORD = "Api-Key"
# An API key as djangorestframework-api-key makes them ("prefix.secret"), with room to spare.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9._-]{1,200}")


class TooManyKeyFailures(APIException):
    """429 with `Retry-After: <wait>` (DRF's exception handler sends the header for `wait`)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_key_failures"

    def __init__(self, wait: int) -> None:
        super().__init__(
            "Too many requests with a missing or wrong API key from this address; "
            f"try again in {wait} seconds."
        )
        self.wait = wait


class TenantAPIKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>`; a missing, malformed, unknown, revoked or expired key is a 401.

    Failures are counted per client address (`REMOTE_ADDR`); past `API_KEY_FAILURE_LIMIT` in
    `API_KEY_FAILURE_WINDOW_SECONDS`, a request with a missing or bad key gets 429 with
    `Retry-After` instead (see `api_key_failures`); a valid key still gets in.
    """

    def authenticate(self, request: Request) -> tuple[None, TenantAPIKey]:
        """The request's key.

        Raises `NotAuthenticated`/`AuthenticationFailed` (401) or `TooManyKeyFailures` (429).
        """
        address = str(request.META.get("REMOTE_ADDR") or "unknown")
        try:
            return (None, self._key(request))
        except (NotAuthenticated, AuthenticationFailed):
            wait = api_key_failures.blocked_for_seconds(address)
            if wait is not None:
                raise TooManyKeyFailures(wait) from None
            api_key_failures.record_failure(address)
            raise

    def _key(self, request: Request) -> TenantAPIKey:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not isinstance(header, str) or not header:
            raise NotAuthenticated("Send the tenant's API key: 'Authorization: Api-Key <key>'.")
        keyword, _, key = header.partition(" ")
        key = key.strip()
        if keyword != KEYWORD or not key:
            raise AuthenticationFailed("The Authorization header must read 'Api-Key <key>'.")
        if not _KEY_SHAPE.fullmatch(key):
            raise AuthenticationFailed("This is not an API key: keys are letters, digits and dots.")
        api_key = api_key_remembered(key)
        if api_key is None:
            try:
                found = TenantAPIKey.objects.get_from_key(key)
            except TenantAPIKey.DoesNotExist:
                raise AuthenticationFailed("This API key is unknown or has been revoked.") from None
            assert isinstance(found, TenantAPIKey)
            api_key = found
            api_key_remember(key, api_key)
        if api_key.has_expired:
            raise AuthenticationFailed("This API key has expired.")
        record_key_use(api_key)
        return api_key

    def authenticate_header(self, request: Request) -> str:
        """The `WWW-Authenticate` challenge of a 401 (RFC 9110 section 11.6.1)."""
        return KEYWORD


LAST_USED_INTERVAL = timedelta(minutes=1)


def record_key_use(api_key: TenantAPIKey) -> None:
    """Set the key's `last_used_at` to now, at most once a minute per key (not a write per call).

    A conditional `UPDATE` (no signals, no audit log entry): of concurrent requests one writes.
    """
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_INTERVAL:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_INTERVAL)
    TenantAPIKey.objects.filter(Q(pk=api_key.pk) & stale).update(last_used_at=now)
    api_key.last_used_at = now


class TenantAPIKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Publishes `TenantAPIKeyAuthentication` as the OpenAPI `apiKey` scheme `Api-Key`."""

    target_class = "integrations.api.TenantAPIKeyAuthentication"
    name = "Api-Key"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        """The security scheme: an `Authorization` header reading `Api-Key <key>`."""
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Api-Key <key>: the word Api-Key, a space, and the tenant's API key.",
        }


class HasTenantAPIKey(BasePermission):
    """Lets in requests that carry a valid tenant API key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, TenantAPIKey)


# The request body as a raw schema: drf-spectacular's serializers cannot say
# `additionalProperties: false`, and the API refuses unknown names.
_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        name: {**parameter_schema(name), "description": prop.description, "example": prop.example}
        for name, prop in CALL_PROPERTIES_BY_PARAMETER.items()
    },
    "required": ["caller_number"],
    "additionalProperties": False,
}


class _FieldSerializer(SharedFieldsSerializer):
    name = serializers.CharField(help_text="The CRM field's key, e.g. `company`.")
    label = serializers.CharField(  # type: ignore[assignment]  # the API's key is "label"
        help_text="The field's label to show, e.g. `Company`."
    )
    value = serializers.CharField(help_text="The field's value in the matched record.")


class _ActionSerializer(SharedFieldsSerializer):
    script_id = serializers.IntegerField(help_text="The script's id in the configurator.")
    name = serializers.CharField(help_text="The script's name, e.g. `Open in CRM`.")
    url = serializers.CharField(help_text="The script's link with the call's and record's values filled in.")
    auto_open = serializers.BooleanField(help_text="Open the link at once when the call comes in.")


class _TopActionSerializer(_ActionSerializer):
    integration_id = serializers.IntegerField(
        allow_null=True, help_text="The integration the script belongs to; null for a tenant-wide script."
    )


class _IntegrationRefSerializer(SharedFieldsSerializer):
    id = serializers.IntegerField(help_text="The integration's id in the configurator.")
    name = serializers.CharField(help_text="The integration's name, e.g. `Sales CRM`.")
    preset = serializers.CharField(help_text="The integration's preset (its CRM), e.g. `hubspot`.")


class _PhoneSerializer(SharedFieldsSerializer):
    number = serializers.CharField(help_text="The number as written in the CRM.")
    type = serializers.CharField(help_text="The number's kind in the CRM (`work`, `mobile`…); may be empty.")
    extension = serializers.CharField(help_text="The extension written with the number; may be empty.")


class _RecordSerializer(SharedFieldsSerializer):
    id = serializers.CharField(help_text="The record's id in the CRM.")
    type = serializers.CharField(help_text="The record's type in the CRM, e.g. `contact` or `company`.")
    url = serializers.CharField(help_text="The record's page in the CRM; may be empty.")
    phone = _PhoneSerializer(help_text="The record's number that matched the caller.")


class _NotificationSerializer(SharedFieldsSerializer):
    title = serializers.CharField(help_text="The notification's title, e.g. the contact's name.")
    fields = _FieldSerializer(  # the API's key is "fields"
        many=True, help_text="The record's fields to show, in order."
    )


class _MatchSerializer(SharedFieldsSerializer):
    integration = _IntegrationRefSerializer(help_text="The integration whose CRM has the record.")
    record = _RecordSerializer(help_text="The matched CRM record.")
    notification = _NotificationSerializer(help_text="What to show the agent about the caller.")
    actions = _ActionSerializer(many=True, help_text="The integration's scripts, rendered for this record.")
    source = serializers.ChoiceField(  # type: ignore[assignment]  # the API's key is "source"
        choices=["cache", "live"],
        help_text="Where the match came from: the synced phone cache, or a live lookup in the CRM.",
    )
    other_records = serializers.IntegerField(
        min_value=0,
        help_text="How many more records of this integration have the number and were left out "
        "(the integration returns only the first of several matches); 0 otherwise.",
    )
    fallback = serializers.BooleanField(
        help_text="True when the caller's full number is in no CRM and this record has the main "
        "number the caller's number is an extension of (the integration's main-number fallback).",
    )


class _ChoiceSerializer(SharedFieldsSerializer):
    record_id = serializers.CharField(help_text="The record's id in the CRM.")
    title = serializers.CharField(allow_blank=True, help_text="The record's name to choose by.")
    url = serializers.CharField(allow_blank=True, help_text="The record's page in the CRM; may be empty.")


class _ChooseSerializer(SharedFieldsSerializer):
    integration = _IntegrationRefSerializer(help_text="The integration whose CRM has these records.")
    choices = _ChoiceSerializer(many=True, help_text="The records the agent chooses among.")
    other_records = serializers.IntegerField(min_value=0, help_text="Records beyond the choices listed.")


class _LookupSerializer(SharedFieldsSerializer):
    integration_id = serializers.IntegerField(help_text="The live-lookup integration's id.")
    status = serializers.ChoiceField(
        choices=["ok", "timeout", "error"],
        help_text="ok: the CRM answered (matches, if any, are in `matches`); timeout: it did not "
        "answer within LIVE_LOOKUP_TIMEOUT_SECONDS; error: it failed (see `message`).",
    )
    cached = serializers.BooleanField(help_text="The answer came from the short per-number cache.")
    message = serializers.CharField(allow_blank=True, help_text="What went wrong, in words; empty when ok.")


class MatchResponseSerializer(SharedFieldsSerializer):
    """The answer: the normalized call, every match, the tenant-wide actions, and one entry per
    live-lookup integration saying whether its CRM answered."""

    call = CallSerializer(help_text="The call as the server read it.")
    matches = _MatchSerializer(many=True, help_text="One entry per CRM record with the caller's number.")
    actions = _TopActionSerializer(
        many=True,
        help_text="Scripts for the call as a whole (tenant-wide, and on-no-match ones when nothing "
        "matched), rendered.",
    )
    lookups = _LookupSerializer(
        many=True,
        help_text="One entry per enabled integration in live-lookup mode (none for cached ones).",
    )
    choose = _ChooseSerializer(
        many=True,
        help_text="Per integration set to let the agent choose among several records for the "
        "number: those records (none of them is in `matches`).",
    )
    ignored = serializers.BooleanField(
        help_text="The caller is on the tenant's ignore list: no matches, no actions."
    )
    ignore_action = serializers.ChoiceField(
        choices=["ignore", "reject"],
        allow_null=True,
        help_text="For an ignored caller: ignore (no notification) or reject (the PBX should "
        "reject the call where it can); null otherwise.",
    )


class MatchErrorSerializer(SharedFieldsSerializer):
    detail = serializers.CharField(help_text="What is wrong, in words.")
    errors = serializers.DictField(  # type: ignore[assignment]  # the API's key is "errors"
        child=serializers.CharField(),
        required=False,
        help_text="For bad call parameters: each wrong parameter's name and what is wrong with it.",
    )


_QUERY_PARAMETERS = [
    OpenApiParameter(
        name,
        parameter_schema(name),
        OpenApiParameter.QUERY,
        required=(name == "caller_number"),
        description=prop.description,
        examples=[OpenApiExample(name, value=prop.example)],
    )
    for name, prop in CALL_PROPERTIES_BY_PARAMETER.items()
]
_RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds until requests with a wrong key from this address are answered again.",
)


_ANSWER_EXAMPLE = OpenApiExample(
    "A known caller",
    response_only=True,
    status_codes=["200"],
    value={
        "call": {
            "caller_number": "+31201234567",
            "caller_number_e164": "+31201234567",
            "anonymous": False,
            "caller_kind": "external",
            "caller_extension": "",
            "caller_name": "Reception Acme",
            "device_number": "201",
            "device_name": "Alice",
            "ddi_number": "+31207654321",
            "ddi_name": "Sales",
            "start_time": "2026-11-21T10:15:00+01:00",
            "call_id": "1763716500.42",
            "direction": "in",
        },
        "matches": [
            {
                "integration": {"id": 3, "name": "Sales CRM", "preset": "hubspot"},
                "record": {
                    "id": "5101",
                    "type": "contact",
                    "url": "https://app.hubspot.com/contacts/123/record/0-1/5101",
                    "phone": {"number": "020 123 4567", "type": "work", "extension": ""},
                },
                "notification": {
                    "title": "Jan de Vries",
                    "fields": [{"name": "company", "label": "Company", "value": "Acme B.V."}],
                },
                "actions": [
                    {
                        "script_id": 7,
                        "name": "Open in CRM",
                        "url": "https://app.hubspot.com/contacts/123/record/0-1/5101",
                        "auto_open": True,
                    }
                ],
                "source": "cache",
                "other_records": 0,
                "fallback": False,
            }
        ],
        "actions": [],
        "lookups": [],
        "choose": [],
        "ignored": False,
        "ignore_action": None,
    },
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(MatchErrorSerializer, description=description)


_GET_RESPONSES = {
    200: OpenApiResponse(MatchResponseSerializer, description="The call, its matches and the actions."),
    400: _error("Bad call parameters (`errors` names each), or a query string that is not UTF-8."),
    401: _error("The API key is missing, malformed, unknown, revoked or expired."),
    429: _error("Too many requests with a missing or wrong API key from this address."),
}
_POST_RESPONSES = {
    **_GET_RESPONSES,
    400: _error(
        "Bad call parameters (`errors` names each), or a body that is not a JSON object, not "
        "UTF-8, not valid JSON, or nested too deeply."
    ),
    413: _error("The body is larger than the server's limit (`API_MAX_BODY_BYTES`)."),
    415: _error("The body is neither application/json nor application/x-www-form-urlencoded."),
}


def _plain_params(data: MultiValueDict[str, str]) -> dict[str, Any]:
    """A query string's or form's parameters: one value as a string, a repeated name as a list."""
    return {name: values[0] if len(values) == 1 else values for name, values in data.lists()}


def _text_param(params: dict[str, Any], name: str) -> str:
    value = params.get(name, "")
    return value if isinstance(value, str) else ""


class MatchView(APIView):
    """Match a call's caller number against the tenant's phone cache."""

    authentication_classes = [TenantAPIKeyAuthentication]
    permission_classes = [HasTenantAPIKey]
    parser_classes = [LimitedJSONParser, LimitedFormParser]
    renderer_classes = [SafeJSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation
    # A PBX's endpoint: the UI's middleware (session, language, CSRF, CSP…) steps aside
    # (configurator.middleware).
    machine_endpoint = True

    # The call log (integrations.journal): each request of a known tenant is recorded with its
    # status and the time to the answer, 400s included; 401/429 have no tenant and are not.
    _journal_started: float = 0.0
    _journal_params: dict[str, Any] | None = None

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Note when the request came in (the call log's duration), then answer it."""
        self._journal_started = time.perf_counter()
        self._journal_params = None
        # English whatever Accept-Language a PBX sends: configurator.middleware.LocaleMiddleware.
        return super().dispatch(request, *args, **kwargs)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        """DRF's finalizing, then the call-log entry of the request (written after it was sent)."""
        response = super().finalize_response(request, response, *args, **kwargs)
        self._journal(request, response)
        return response

    def _journal(self, request: Request, response: Any) -> None:
        try:
            auth = request.auth
        except Exception:  # authentication failed before: no tenant to log for
            return
        if not isinstance(auth, TenantAPIKey):
            return
        params = self._journal_params
        if params is None:
            params = {}
            if request.method == "GET":
                try:
                    params = _plain_params(parse_query_string(request.META))
                except Exception:  # a query string that is not UTF-8: logged without its parameters
                    params = {}
        data = getattr(response, "data", None)
        journal.journal_record(
            tenant=auth.tenant,
            sender=API_SENDER,
            request_data=params,
            answer=data if isinstance(data, dict) else None,
            status_code=int(response.status_code),
            duration_ms=(time.perf_counter() - self._journal_started) * 1000,
            call_id=_text_param(params, "call_id"),
            caller_number=_text_param(params, "caller_number"),
            called_number=_text_param(params, "ddi_number"),
        )

    def _answer(self, request: Request, params: dict[str, Any]) -> Response:
        assert isinstance(request.auth, TenantAPIKey)
        self._journal_params = params
        tenant = request.auth.tenant
        try:
            call = call_from_params(tenant=tenant, params=params)
        except CallInputError as exc:
            return Response(
                {"detail": f"Bad call parameters: {exc}.", "errors": exc.errors},
                status=status.HTTP_400_BAD_REQUEST,
            )
        # The matching API counts as the call's start for scripts the server runs.
        answer, server_scripts = match_call_for_event(tenant=tenant, call=call, event=CallEvent.START)
        if server_scripts:
            server_scripts_queue(tenant=tenant, event=CallEvent.START, answer=answer, scripts=server_scripts)
        agents_live.match_received(tenant=tenant, call=call, answer=answer)  # after the response
        # Rendered by the serializer the OpenAPI schema is built from: what is not declared there
        # is not sent.
        return Response(MatchResponseSerializer(answer).data)

    @extend_schema(
        operation_id="match_get",
        description=(
            "Match a call given as query parameters. Each parameter may appear once; unknown "
            "names are refused. The query string must be UTF-8."
        ),
        parameters=[*_QUERY_PARAMETERS, _RETRY_AFTER],
        responses=_GET_RESPONSES,
        examples=[
            OpenApiExample("Known caller", value={"caller_number": "020 123 4567"}, request_only=True),
            _ANSWER_EXAMPLE,
        ],
    )
    def get(self, request: Request) -> Response:
        """Match a call given as query parameters."""
        return self._answer(request, _plain_params(parse_query_string(request.META)))

    @extend_schema(
        operation_id="match_post",
        description=(
            "Match a call given as a JSON object (or a form) of the same parameters as GET, each "
            f"value a string. This server reads bodies of at most {max_body_bytes()} bytes "
            f"(`API_MAX_BODY_BYTES`; 413 beyond) and JSON nested at most {max_json_depth()} levels."
        ),
        request={
            "application/json": _REQUEST_SCHEMA,
            "application/x-www-form-urlencoded": _REQUEST_SCHEMA,
        },
        parameters=[_RETRY_AFTER],
        responses=_POST_RESPONSES,
        examples=[
            OpenApiExample("Known caller", value={"caller_number": "020 123 4567"}, request_only=True),
            _ANSWER_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        """Match a call given as a JSON (or form) body."""
        data = request.data
        if isinstance(data, MultiValueDict):
            return self._answer(request, _plain_params(data))
        if not isinstance(data, dict):
            return Response(
                {"detail": 'The body must be a JSON object of call properties: {"caller_number": "020…"}.'},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return self._answer(request, data)
