"""Routes of the preset catalog: its JSON API and its public page."""

from django.urls import URLPattern, path

from integrations.catalog_views import CatalogView, catalog_page

urlpatterns: list[URLPattern] = [
    path("api/v1/catalog", CatalogView.as_view(), name="api-catalog"),
    path("catalog/", catalog_page, name="catalog"),
]
