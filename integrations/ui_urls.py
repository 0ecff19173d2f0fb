"""Routes of the integration and script screens."""

from django.urls import URLPattern, path

from integrations import (
    edit_views,
    journal_views,
    matching_views,
    oauth_views,
    overview_views,
    phonebook_views,
    preset_views,
    script_views,
    wizard,
)

urlpatterns: list[URLPattern] = [
    path("integrations/new/", wizard.wizard_start, name="integration-wizard"),
    path(
        "integrations/new/<str:wizard_id>/preview/",
        wizard.wizard_preview,
        name="integration-wizard-preview",
    ),
    path("integrations/new/<str:wizard_id>/<str:step>/", wizard.wizard_step, name="integration-wizard-step"),
    path("integrations/add/", preset_views.preset_list, name="integration-presets"),
    path("integrations/add/<slug:preset_slug>/", preset_views.integration_add, name="integration-add"),
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
    path(
        "integrations/<int:integration_id>/", overview_views.integration_overview, name="integration-overview"
    ),
    path("integrations/<int:integration_id>/edit/", edit_views.integration_edit, name="integration-edit"),
    path(
        "integrations/<int:integration_id>/status/",
        overview_views.integration_status,
        name="integration-status",
    ),
    path("integrations/<int:integration_id>/sync/", overview_views.integration_sync, name="integration-sync"),
    path(
        "integrations/<int:integration_id>/lookup-mode/",
        overview_views.integration_lookup_mode,
        name="integration-lookup-mode",
    ),
    path(
        "integrations/<int:integration_id>/numbers/",
        overview_views.integration_numbers,
        name="integration-numbers",
    ),
    path(
        "integrations/<int:integration_id>/sample/",
        overview_views.integration_sample,
        name="integration-sample",
    ),
    path(
        "integrations/<int:integration_id>/hold/accept/",
        overview_views.integration_hold_accept_view,
        name="integration-hold-accept",
    ),
    path(
        "integrations/<int:integration_id>/hold/reject/",
        overview_views.integration_hold_reject_view,
        name="integration-hold-reject",
    ),
    path(
        "integrations/<int:integration_id>/enable/",
        overview_views.integration_enable,
        name="integration-enable",
    ),
    path(
        "integrations/<int:integration_id>/disable/",
        overview_views.integration_disable,
        name="integration-disable",
    ),
    path(
        "integrations/<int:integration_id>/delete/",
        overview_views.integration_delete_view,
        name="integration-delete",
    ),
    path(
        "integrations/<int:integration_id>/scripts/add/",
        script_views.integration_script_add,
        name="integration-script-add",
    ),
    path(
        "integrations/<int:integration_id>/scripts/preview/",
        script_views.integration_script_preview,
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
    path(
        "integrations/<int:integration_id>/order/",
        matching_views.integration_order_move,
        name="integration-order-move",
    ),
    path("integrations/order/", matching_views.integration_order_save, name="integration-order-save"),
    path(
        "integrations/<int:integration_id>/multiple-matches/",
        matching_views.integration_multiple_matches,
        name="integration-multiple-matches",
    ),
    path("ignore-list/", matching_views.ignore_list, name="ignore-list"),
    path("ignore-list/<int:entry_id>/remove/", matching_views.ignore_list_remove, name="ignore-list-remove"),
    path("test-lookup/", matching_views.test_lookup, name="test-lookup"),
    path("call-log/", journal_views.call_log, name="call-log"),
    path("call-log/options/", journal_views.call_log_options, name="call-log-options"),
    path("call-log/<int:entry_id>/", journal_views.call_log_entry, name="call-log-entry"),
    path("call-log/server-requests/", journal_views.server_requests, name="server-requests"),
    path("match-quality/", journal_views.match_quality, name="match-quality"),
    path("scripts/add/", script_views.script_add, name="script-add"),
    path("scripts/preview/", script_views.script_preview, name="script-preview"),
    path("scripts/<int:script_id>/edit/", script_views.script_edit, name="script-edit"),
    path("scripts/<int:script_id>/delete/", script_views.script_delete_view, name="script-delete"),
]
