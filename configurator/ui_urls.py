"""Routes of the admin UI's frame: sign-in and sign-out, the main screen, the audit log."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path

from configurator import views

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit-log/", views.audit_log, name="audit-log"),
    path("organization/numbers/", views.tenant_numbers, name="tenant-numbers"),
]
