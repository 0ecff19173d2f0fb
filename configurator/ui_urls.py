"""Routes of the admin UI's frame: sign-in and sign-out, the main screen, API keys, the audit log."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path

from configurator import views

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api-keys/", views.api_keys, name="api-keys"),
    path("api-keys/<str:prefix>/revoke/", views.api_key_revoke_view, name="api-key-revoke"),
    path(
        "api-keys/<str:prefix>/revoke/confirm/", views.api_key_revoke_confirm, name="api-key-revoke-confirm"
    ),
    path("audit-log/", views.audit_log, name="audit-log"),
    path("organization/numbers/", views.tenant_numbers, name="tenant-numbers"),
]
