"""Agents and their live call notifications (issue 11).

A tenant admin invites agents and ties each to the devices (extensions), DDIs and queues whose
calls they take. Call events from the PBX formats (`integrations.pbx`) and the match API are
turned into `AgentCall` rows and pushed over a WebSocket (Django Channels) to every open agent
page of the agents concerned; the page shows the caller, the matches and the actions.
"""
