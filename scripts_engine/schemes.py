"""Which URL schemes a rendered link may have."""

from __future__ import annotations

import re
from collections.abc import Collection

DEFAULT_ALLOWED_SCHEMES: frozenset[str] = frozenset(
    {"http", "https", "mailto", "tel", "callto", "sip", "sips"}
)

# Schemes that run code or read local data in the agent's browser. A tenant's extra
# app schemes can never re-enable them: one admin's mistake must not turn every
# agent's screen pop into script execution.
NEVER_ALLOWED_SCHEMES: frozenset[str] = frozenset(
    {"javascript", "vbscript", "data", "file", "blob", "filesystem", "about"}
)

# RFC 3986 section 3.1 and the WHATWG URL standard's scheme state agree: an ASCII
# letter, then letters, digits, "+", "-", "." up to the colon. Requiring it at index 0
# (no leading space or control character, which browsers would strip) means what we
# check is exactly what a browser will use.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def scheme_of(url: str) -> str | None:
    """Return the lower-cased scheme ``url`` starts with, or ``None`` if it does not start with one."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def normalize_schemes(schemes: Collection[str]) -> frozenset[str]:
    """Lower-case extra schemes and drop a trailing colon: ``["MyApp:"]`` -> ``{"myapp"}``."""
    return frozenset(scheme.strip().rstrip(":").lower() for scheme in schemes)


def allowed_schemes(extra_schemes: Collection[str] = ()) -> frozenset[str]:
    """The default schemes plus a tenant's extra app schemes, minus :data:`NEVER_ALLOWED_SCHEMES`."""
    if not extra_schemes:
        return DEFAULT_ALLOWED_SCHEMES
    return (DEFAULT_ALLOWED_SCHEMES | normalize_schemes(extra_schemes)) - NEVER_ALLOWED_SCHEMES
