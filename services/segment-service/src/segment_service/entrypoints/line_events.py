"""Translate LINE webhook events (as ingress-webhook publishes them, opened) into segment commands."""

from __future__ import annotations

from typing import Any

from cityline_common.amqp.consumer import PoisonMessage
from cityline_common.line_ids import is_line_user_id

from segment_service.domain import commands


def to_command(event: dict[str, Any]) -> commands.FollowResident | commands.UnfollowResident | None:
    """The command a LINE event asks for, or None when segment-service has nothing to do with it."""
    kind = event.get("type")
    if kind not in {"follow", "unfollow"}:
        return None
    source = event.get("source") or {}
    user_id = source.get("userId") if isinstance(source, dict) else None
    if not isinstance(user_id, str) or not is_line_user_id(user_id):
        raise PoisonMessage(f"{kind} event without a valid source.userId")
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
        raise PoisonMessage(f"{kind} event without an integer timestamp")
    if kind == "follow":
        return commands.FollowResident(line_user_id=user_id, occurred_at_ms=timestamp)
    return commands.UnfollowResident(line_user_id=user_id, occurred_at_ms=timestamp)
