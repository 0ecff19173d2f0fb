"""URL routes: the admin UI, the matching API and its documentation, and the Django admin.

The Django admin lives at `settings.ADMIN_URL_PATH` (read when this module is imported).
"""

from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from integrations.api import MatchView

urlpatterns = [
    # First: a PBX asks this once per call, and Django tries the patterns in order (behind the
    # UI's includes it cost a tenth of a millisecond a request; bench/profile_match.py).
    path("api/v1/match", MatchView.as_view(), name="api-match"),
    path("", include("configurator.ui_urls")),
    path("", include("tenants.urls")),
    # set_language: the frame's language switch posts here (a cookie; LocaleMiddleware reads it).
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("integrations.ui_urls")),
    path("", include("integrations.pbx.urls")),
    path("", include("agents.urls")),
    path("", include("integrations.catalog_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from its own URL: no inline script, so
    # the page works under the Content-Security-Policy (script-src 'self').
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path(settings.ADMIN_URL_PATH, admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page says.
    path("favicon.ico", RedirectView.as_view(url=static("app/favicon.svg"), permanent=True)),
]
