"""Translate LINE webhook events (as ingress-webhook publishes them) into segment commands."""

from __future__ import annotations

from typing import Any

from cityline_common.amqp.consumer import PoisonMessage
from cityline_common.messagebus import Command

from segment_service.domain import commands
from segment_service.domain.model import LINE_USER_ID


def to_command(envelope: Any) -> Command | None:
    """The command an event asks for, or None when segment-service has nothing to do with it."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("event"), dict):
        raise PoisonMessage("not a LINE event envelope: expected an object with an 'event' object")
    event: dict[str, Any] = envelope["event"]
    kind = event.get("type")
    if kind not in {"follow", "unfollow"}:
        return None
    source = event.get("source") or {}
    user_id = source.get("userId") if isinstance(source, dict) else None
    if not isinstance(user_id, str) or not LINE_USER_ID.match(user_id):
        raise PoisonMessage(f"{kind} event without a valid source.userId")
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
        raise PoisonMessage(f"{kind} event without an integer timestamp")
    if kind == "follow":
        return commands.FollowResident(line_user_id=user_id, occurred_at_ms=timestamp)
    return commands.UnfollowResident(line_user_id=user_id, occurred_at_ms=timestamp)
