"""Routes of the API-keys screens."""

from django.urls import URLPattern, path

from tenants import views

urlpatterns: list[URLPattern] = [
    path("api-keys/", views.api_keys, name="api-keys"),
    path("api-keys/<str:prefix>/revoke/", views.api_key_revoke_view, name="api-key-revoke"),
    path(
        "api-keys/<str:prefix>/revoke/confirm/", views.api_key_revoke_confirm, name="api-key-revoke-confirm"
    ),
]
