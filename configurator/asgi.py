"""ASGI entry point: the Django app over HTTP and the agents' live page over WebSocket.

`uvicorn configurator.asgi:application` (bin/run) serves both. WebSocket connections are
authenticated by the Django session cookie (`AuthMiddlewareStack`) and refused unless their
`Origin` is one of `ALLOWED_HOSTS` (`AllowedHostsOriginValidator`, against cross-site WebSocket
hijacking).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configurator.settings")
# Django first: the routing below imports models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from agents.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
