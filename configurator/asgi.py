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
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from agents.routing import websocket_urlpatterns  # noqa: E402

# Load the channel layer now: channels-redis' imports take ~0.7 s, which the first call event
# would otherwise wait for before reaching the agents.
get_channel_layer()

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
