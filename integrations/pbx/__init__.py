"""PBX call-event formats: one module per format on the shared base (`integrations.pbx.base`).

`FORMATS` maps each `PbxFormat` value to its handler. Import `handler_for` rather than the
modules; the model is `integrations.pbx.models.PbxSender`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integrations.pbx.base import PbxFormatHandler


@functools.cache
def formats() -> dict[str, PbxFormatHandler]:
    """Every format's handler by slug, in the order the "Connect your PBX" page lists them."""
    from integrations.pbx.anywhere365 import Anywhere365Handler
    from integrations.pbx.cloudcti import CloudCtiHandler
    from integrations.pbx.placetel import PlacetelHandler
    from integrations.pbx.sipgate import SipgateHandler
    from integrations.pbx.zammad import ZammadHandler

    handlers: list[PbxFormatHandler] = [
        ZammadHandler(),
        PlacetelHandler(),
        SipgateHandler(),
        Anywhere365Handler(),
        CloudCtiHandler(),
    ]
    return {handler.slug: handler for handler in handlers}


def handler_for(slug: str) -> PbxFormatHandler | None:
    """The handler of format `slug`, or None for an unknown format."""
    return formats().get(slug)
