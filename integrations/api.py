"""The matching API for PBXs: `GET`/`POST /api/v1/match`, authenticated by a tenant API key."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from configurator.models import TenantAPIKey
from integrations.matching import CALL_PARAMETERS, CallInputError, call_from_params, match_call

KEYWORD = "Api-Key"


class TenantAPIKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>`; a missing, unknown, revoked or expired key is a 401."""

    def authenticate(self, request: Request) -> tuple[None, TenantAPIKey]:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        keyword, _, key = header.partition(" ")
        if not header:
            raise NotAuthenticated("Send the tenant's API key: 'Authorization: Api-Key <key>'.")
        if keyword != KEYWORD or not key.strip():
            raise AuthenticationFailed("The Authorization header must read 'Api-Key <key>'.")
        try:
            api_key = TenantAPIKey.objects.get_from_key(key.strip())
        except TenantAPIKey.DoesNotExist:
            raise AuthenticationFailed("This API key is unknown or has been revoked.") from None
        if api_key.has_expired:
            raise AuthenticationFailed("This API key has expired.")
        assert isinstance(api_key, TenantAPIKey)
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class HasTenantAPIKey(BasePermission):
    """Lets in requests that carry a valid tenant API key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, TenantAPIKey)


class MatchRequestSerializer(serializers.Serializer[Any]):
    """The call properties a PBX sends (documentation of the request; validation is in matching)."""

    caller_number = serializers.CharField(help_text="The caller's number as the PBX has it, or `anonymous`.")
    caller_name = serializers.CharField(required=False, help_text="Internal name from the phone system.")
    device_number = serializers.CharField(required=False, help_text="The device the call rings on.")
    device_name = serializers.CharField(required=False)
    ddi_number = serializers.CharField(required=False, help_text="The number the caller dialled (DDI).")
    ddi_name = serializers.CharField(required=False)
    start_time = serializers.CharField(required=False, help_text="ISO 8601 or Unix seconds; default now.")
    call_id = serializers.CharField(required=False)
    direction = serializers.ChoiceField(choices=["in", "out"], required=False)


class _FieldSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # the API's key is "label"
    value = serializers.CharField()


class _ActionSerializer(serializers.Serializer[Any]):
    script_id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()
    auto_open = serializers.BooleanField()


class _TopActionSerializer(_ActionSerializer):
    integration_id = serializers.IntegerField(allow_null=True)


class _IntegrationRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    preset = serializers.CharField()


class _PhoneSerializer(serializers.Serializer[Any]):
    number = serializers.CharField(help_text="The number as written in the CRM.")
    type = serializers.CharField()
    extension = serializers.CharField()


class _RecordSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    type = serializers.CharField()
    url = serializers.CharField()
    phone = _PhoneSerializer()


class _NotificationSerializer(serializers.Serializer[Any]):
    title = serializers.CharField()
    fields = _FieldSerializer(many=True)  # type: ignore[assignment]  # the API's key is "fields"


class _MatchSerializer(serializers.Serializer[Any]):
    integration = _IntegrationRefSerializer()
    record = _RecordSerializer()
    notification = _NotificationSerializer()
    actions = _ActionSerializer(many=True)


class _CallSerializer(serializers.Serializer[Any]):
    caller_number = serializers.CharField()
    caller_number_e164 = serializers.CharField(allow_null=True)
    anonymous = serializers.BooleanField()
    caller_name = serializers.CharField()
    device_number = serializers.CharField()
    device_name = serializers.CharField()
    ddi_number = serializers.CharField()
    ddi_name = serializers.CharField()
    start_time = serializers.DateTimeField()
    call_id = serializers.CharField()
    direction = serializers.CharField()


class MatchResponseSerializer(serializers.Serializer[Any]):
    """The answer: the normalized call, every match, and the tenant-wide actions."""

    call = _CallSerializer()
    matches = _MatchSerializer(many=True)
    actions = _TopActionSerializer(many=True)


class _ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    errors = serializers.DictField(  # type: ignore[assignment]  # the API's key is "errors"
        child=serializers.CharField(), required=False
    )


_QUERY_PARAMETERS = [
    OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, required=(name == "caller_number"))
    for name in CALL_PARAMETERS
]
_RESPONSES = {
    200: MatchResponseSerializer,
    400: _ErrorSerializer,
    401: _ErrorSerializer,
}


class MatchView(APIView):
    """Match a call's caller number against the tenant's phone cache."""

    authentication_classes = [TenantAPIKeyAuthentication]
    permission_classes = [HasTenantAPIKey]

    def _answer(self, request: Request, params: Any) -> Response:
        assert isinstance(request.auth, TenantAPIKey)
        tenant = request.auth.tenant
        try:
            call = call_from_params(tenant=tenant, params=params)
        except CallInputError as exc:
            return Response(
                {"detail": f"Bad call parameters: {exc}.", "errors": exc.errors},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(match_call(tenant=tenant, call=call))

    @extend_schema(
        operation_id="match_get",
        parameters=_QUERY_PARAMETERS,
        responses=_RESPONSES,
        examples=[OpenApiExample("Known caller", value={"caller_number": "020 123 4567"}, request_only=True)],
    )
    def get(self, request: Request) -> Response:
        """Match a call given as query parameters."""
        return self._answer(request, {k: request.query_params.getlist(k) for k in request.query_params})

    @extend_schema(operation_id="match_post", request=MatchRequestSerializer, responses=_RESPONSES)
    def post(self, request: Request) -> Response:
        """Match a call given as a JSON (or form) body."""
        data = request.data
        if hasattr(data, "getlist"):
            data = {k: data.getlist(k) for k in data}
        if not isinstance(data, dict):
            return Response(
                {"detail": "The body must be a JSON object of call properties."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return self._answer(request, data)
