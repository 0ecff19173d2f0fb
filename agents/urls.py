"""Routes of the agent's live page and the tenant admin's agents screen."""

from django.urls import URLPattern, path

from agents import views

urlpatterns: list[URLPattern] = [
    path("agent/", views.agent_page, name="agent-page"),
    path("agent/welcome/<uidb64>/<token>/", views.AgentWelcomeView.as_view(), name="agent-welcome"),
    path("agents/", views.agents_screen, name="agents"),
    path("agents/<int:agent_id>/", views.agent_edit, name="agent-edit"),
    path("agents/<int:agent_id>/link/", views.agent_link, name="agent-link"),
    path("agents/<int:agent_id>/active/", views.agent_activate, name="agent-activate"),
    path("agents/<int:agent_id>/delete/", views.agent_remove, name="agent-delete"),
]
