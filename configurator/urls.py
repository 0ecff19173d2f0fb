"""URL routes: the admin UI, the matching API and its documentation, and the Django admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from integrations.api import MatchView

urlpatterns = [
    path("", include("configurator.ui_urls")),
    path("", include("integrations.ui_urls")),
    path("api/v1/match", MatchView.as_view(), name="api-match"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("django-admin/", admin.site.urls),
]
