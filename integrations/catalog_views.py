"""The public catalog: `/catalog/` (a page) and `GET /api/v1/catalog` (JSON), no sign-in needed.

Both list every preset (`integrations.catalog`); `?q=` keeps the presets matching every word.
Nothing tenant-specific is shown, so providers and prospects can read them without an account.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.api_parsers import JSONOnlyNegotiation, SafeJSONRenderer
from integrations.catalog import catalog

MAX_QUERY_LENGTH = 200


def _query(value: object) -> str:
    """The search words, cut to `MAX_QUERY_LENGTH` characters, without NUL or lone surrogates."""
    text = str(value or "")[:MAX_QUERY_LENGTH]
    return "".join(ch for ch in text if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF).strip()


@require_GET
def catalog_page(request: HttpRequest) -> HttpResponse:
    """Every preset in a table: auth, what it syncs, incremental, live lookup, links."""
    query = _query(request.GET.get("q", ""))
    entries = catalog(query)
    return render(
        request,
        "integrations/catalog.html",
        {"entries": entries, "query": query, "total": len(catalog())},
    )


_ENTRY = inline_serializer(
    "CatalogEntry",
    fields={
        "slug": serializers.CharField(),
        "name": serializers.CharField(),
        "category": serializers.CharField(
            help_text=gettext_lazy("CRM, Helpdesk, Address book, Directory or Screen pop.")
        ),
        "description": serializers.CharField(),
        "phone_data": serializers.BooleanField(
            help_text=gettext_lazy("Whether the preset syncs phone numbers.")
        ),
        "auth": serializers.ListField(
            child=serializers.CharField(), help_text=gettext_lazy("How the admin authorizes us.")
        ),
        "paging": serializers.CharField(
            help_text=gettext_lazy("How the connector pages through the CRM; empty for none.")
        ),
        "incremental": serializers.ChoiceField(choices=["yes", "no", "configurable"]),
        "live_lookup": serializers.ChoiceField(choices=["yes", "no", "configurable"]),
        "record_types": serializers.ListField(child=serializers.CharField()),
        "fields": serializers.ListField(child=serializers.DictField(child=serializers.CharField())),
        "notification_fields": serializers.ListField(child=serializers.CharField()),
        "screen_pops": serializers.ListField(child=serializers.DictField(child=serializers.CharField())),
        "docs_url": serializers.CharField(),
        "credentials_url": serializers.CharField(),
        "keywords": serializers.ListField(child=serializers.CharField()),
    },
)


class CatalogView(APIView):
    """The preset catalog as JSON (public)."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    renderer_classes = [SafeJSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation
    # For integrators' code: English, no session or CSP (configurator.middleware).
    machine_endpoint = True

    @extend_schema(
        operation_id="catalog",
        auth=[],
        description=(
            "Every preset of the catalog: the CRMs, helpdesks, address books and screen pops an "
            "integration can be made for, with how each authorizes, what it syncs, whether it syncs "
            "changes incrementally and supports live lookup. No API key needed."
        ),
        parameters=[
            OpenApiParameter(
                "q",
                str,
                description=f"Keep presets matching every word (name, category, keywords); at most "
                f"{MAX_QUERY_LENGTH} characters are used.",
            )
        ],
        responses={
            200: inline_serializer("Catalog", fields={"presets": serializers.ListField(child=_ENTRY)})
        },
    )
    def get(self, request: Request) -> Response:
        """The catalog, optionally filtered by `q` (English whatever Accept-Language says)."""
        return Response({"presets": catalog(_query(request.query_params.get("q", "")))})
