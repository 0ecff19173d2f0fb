"""The one place outbound HTTP clients for connectors are made.

Every connector, "Test connection", OAuth call and (later) webhook gets its client here, so every
request goes through the private-address guard and the size and time caps of
`integrations.outbound` (see there for what is refused and why).
"""

import httpx
from django.conf import settings

from integrations.outbound import GuardedTransport

USER_AGENT = "CTI-Configurator/0.1 (+phone cache sync)"


def connector_client(*, timeout: float | None = None) -> httpx.Client:
    """Return a client for one sync or connection test.

    Timeout `CONNECTOR_HTTP_TIMEOUT` seconds per connect/read/write, `OUTBOUND_REQUEST_TOTAL_TIMEOUT`
    seconds per request in total, at most `OUTBOUND_MAX_RESPONSE_BYTES` per response body; no
    redirects followed (a CRM redirecting its API is a misconfiguration we want to report; a
    caller that passes `follow_redirects=True` still gets every hop checked, because every
    connection goes through the guarded transport); two retries of failed connection attempts;
    proxies and certificates from the environment ignored (`trust_env=False`), so that HTTP_PROXY
    cannot route requests past the guard. Addresses inside private networks are refused with
    `integrations.outbound.OutboundAddressRefused` unless `OUTBOUND_ALLOW_PRIVATE_ADDRESSES` is on.

    `timeout` (seconds), for live lookup: replaces both timeouts above (per operation and per
    request in total) and turns off the connection retries.
    """
    if timeout is None:
        transport = GuardedTransport(retries=2)
    else:
        transport = GuardedTransport(retries=0, total_timeout=timeout)
    return httpx.Client(
        timeout=settings.CONNECTOR_HTTP_TIMEOUT if timeout is None else timeout,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=transport,
        trust_env=False,
    )
