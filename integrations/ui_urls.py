"""Routes of the integration and script screens."""

from django.urls import URLPattern, path

from integrations import oauth_views, phonebook_views, views

urlpatterns: list[URLPattern] = [
    path("integrations/add/", views.preset_list, name="integration-presets"),
    path("integrations/add/<slug:preset_slug>/", views.integration_add, name="integration-add"),
    path(
        "integrations/oauth/callback/",
        oauth_views.integration_oauth_callback,
        name="integration-oauth-callback",
    ),
    path(
        "integrations/<int:integration_id>/oauth/connect/",
        oauth_views.integration_oauth_connect,
        name="integration-oauth-connect",
    ),
    path("integrations/<int:integration_id>/", views.integration_overview, name="integration-overview"),
    path("integrations/<int:integration_id>/status/", views.integration_status, name="integration-status"),
    path("integrations/<int:integration_id>/sync/", views.integration_sync, name="integration-sync"),
    path(
        "integrations/<int:integration_id>/lookup-mode/",
        views.integration_lookup_mode,
        name="integration-lookup-mode",
    ),
    path(
        "integrations/<int:integration_id>/numbers/",
        views.integration_numbers,
        name="integration-numbers",
    ),
    path("integrations/<int:integration_id>/sample/", views.integration_sample, name="integration-sample"),
    path(
        "integrations/<int:integration_id>/hold/accept/",
        views.integration_hold_accept_view,
        name="integration-hold-accept",
    ),
    path(
        "integrations/<int:integration_id>/hold/reject/",
        views.integration_hold_reject_view,
        name="integration-hold-reject",
    ),
    path("integrations/<int:integration_id>/enable/", views.integration_enable, name="integration-enable"),
    path("integrations/<int:integration_id>/disable/", views.integration_disable, name="integration-disable"),
    path(
        "integrations/<int:integration_id>/delete/", views.integration_delete_view, name="integration-delete"
    ),
    path(
        "integrations/<int:integration_id>/scripts/add/",
        views.integration_script_add,
        name="integration-script-add",
    ),
    path(
        "integrations/<int:integration_id>/scripts/preview/",
        views.integration_script_preview,
        name="integration-script-preview",
    ),
    path(
        "integrations/<int:integration_id>/phonebook/upload/",
        phonebook_views.phonebook_upload,
        name="phonebook-upload",
    ),
    path(
        "integrations/<int:integration_id>/phonebook/<int:upload_id>/",
        phonebook_views.phonebook_map,
        name="phonebook-map",
    ),
    path("scripts/add/", views.script_add, name="script-add"),
    path("scripts/preview/", views.script_preview, name="script-preview"),
    path("scripts/<int:script_id>/edit/", views.script_edit, name="script-edit"),
    path("scripts/<int:script_id>/delete/", views.script_delete_view, name="script-delete"),
]
