"""Routes of the PBX event endpoints and the "Connect your PBX" page."""

from django.urls import URLPattern, path

from integrations.pbx import views

urlpatterns: list[URLPattern] = [
    path("pbx/", views.pbx_senders, name="pbx-senders"),
    path("pbx/senders/<int:sender_id>/rotate/", views.pbx_sender_rotate_view, name="pbx-sender-rotate"),
    path("pbx/senders/<int:sender_id>/enable/", views.pbx_sender_enable_view, name="pbx-sender-enable"),
    path("pbx/senders/<int:sender_id>/disable/", views.pbx_sender_disable_view, name="pbx-sender-disable"),
    path("pbx/senders/<int:sender_id>/delete/", views.pbx_sender_delete_view, name="pbx-sender-delete"),
    path("pbx/<slug:format_slug>/<str:token>/", views.pbx_event, name="pbx-event"),
]
