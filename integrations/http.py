"""The one place outbound HTTP clients for connectors are made."""

import httpx
from django.conf import settings

USER_AGENT = "CTI-Configurator/0.1 (+phone cache sync)"


def connector_client() -> httpx.Client:
    """Return a client for one sync or connection test.

    Timeout `CONNECTOR_HTTP_TIMEOUT` seconds, no redirects followed (a CRM redirecting its API is
    a misconfiguration we want to report), two retries of failed connection attempts.
    """
    return httpx.Client(
        timeout=settings.CONNECTOR_HTTP_TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=httpx.HTTPTransport(retries=2),
    )
