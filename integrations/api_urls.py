"""Routes of the matching API and of the preset catalog (its JSON API and its public page)."""

from django.urls import URLPattern, path

from integrations.api import MatchView
from integrations.catalog_views import CatalogView, catalog_page

urlpatterns: list[URLPattern] = [
    path("api/v1/match", MatchView.as_view(), name="api-match"),
    path("api/v1/catalog", CatalogView.as_view(), name="api-catalog"),
    path("catalog/", catalog_page, name="catalog"),
]
