"""The floor: the least a DRF view can do to answer a caller number from the phone cache.

`GET /bench/floor?tenant=<id>&caller_number=<E.164>` runs one indexed query on the same table
(`phone_cache_lookup`: tenant_id, e164) and returns the rows' record id, name and fields. No
authentication, no normalization, no scripts: whatever the match API costs above this is ours.
"""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.models import PhoneCacheEntry


class FloorView(APIView):
    """One indexed lookup, answered as JSON."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        tenant = request.query_params.get("tenant", "")
        number = request.query_params.get("caller_number", "")
        rows = list(
            PhoneCacheEntry.objects.filter(tenant_id=int(tenant or 0), e164=number).values(
                "record_id", "display_name", "fields"
            )
        )
        return Response({"matches": rows})
