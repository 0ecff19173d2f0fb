"""The agent page's WebSocket (`/ws/agent/`): today's calls on connect, then each call's card as it
changes; the page may send `{"type": "called_back", "id": <call id>}`.

Only a signed-in, active agent is accepted (others: the handshake is refused, HTTP 403). The
consumer joins its agent's group only (`agents.live.agent_group`), so it receives nothing about
other agents' or other tenants' calls.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents.live import agent_group, call_called_back, call_card
from agents.models import AgentCall, AgentProfile
from agents.selectors import agent_calls_today, agent_for_user

# Close codes (4000-4999 are the application's, RFC 6455 §7.4.2): the page stops reconnecting
# and reloads (the sign-in page, when the session is gone).
CLOSE_SIGNED_OUT = 4401


def _snapshot(agent: AgentProfile) -> list[dict[str, Any]]:
    return [call_card(call) for call in agent_calls_today(agent=agent)]


def _called_back(agent: AgentProfile, call_id: int) -> bool:
    try:
        call_called_back(agent=agent, call_id=call_id)
    except AgentCall.DoesNotExist:
        return False
    return True


class AgentConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels is untyped
    """One open agent page."""

    agent: AgentProfile | None = None

    async def connect(self) -> None:
        """Accept a signed-in agent, join their group and send today's calls."""
        self.agent = await database_sync_to_async(agent_for_user)(user=self.scope.get("user"))
        if self.agent is None:
            await self.close()
            return
        await self.channel_layer.group_add(agent_group(self.agent.pk), self.channel_name)
        await self.accept()
        calls = await database_sync_to_async(_snapshot)(self.agent)
        await self.send_json(
            {
                "type": "snapshot",
                "agent": {"id": self.agent.pk, "name": self.agent.display_name},
                "calls": calls,
            }
        )

    async def disconnect(self, code: int) -> None:
        """Leave the agent's group."""
        if self.agent is not None:
            await self.channel_layer.group_discard(agent_group(self.agent.pk), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """`called_back`: mark the call called back (answered with `{"type": "ok"|"error"}`)."""
        assert self.agent is not None
        if not isinstance(content, dict) or content.get("type") != "called_back":
            await self.send_json(
                {"type": "error", "detail": 'Send {"type": "called_back", "id": <call id>}.'}
            )
            return
        call_id = content.get("id")
        if not isinstance(call_id, int) or isinstance(call_id, bool) or not 0 < call_id < 2**63:
            await self.send_json(
                {"type": "error", "detail": "The id must be a call id (a positive integer)."}
            )
            return
        done = await database_sync_to_async(_called_back)(self.agent, call_id)
        await self.send_json(
            {"type": "ok"} if done else {"type": "error", "detail": "No such call of yours."}
        )

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        """A text frame of JSON; anything else (binary, not JSON, too deep) gets an error answer."""
        if self.agent is None:
            return
        try:
            content = json.loads(text_data) if text_data else None
        except (ValueError, RecursionError):
            content = None
        await self.receive_json(content, **kwargs)

    async def agent_call(self, event: dict[str, Any]) -> None:
        """A call's card changed (`agents.live.publish_call`)."""
        await self.send_json({"type": "call", "call": event["call"]})

    async def agent_disconnect(self, event: dict[str, Any]) -> None:
        """The agent signed out or was deactivated: close; the page reloads."""
        await self.close(code=CLOSE_SIGNED_OUT)
