"""Answering a resident: reply with the event's token, else push once under a deterministic retry key.

Runs after the unit of work that decided the answer has committed (``uow.after_commit``), never
inside it. Nothing twice: the consumer's claim makes a redelivered event a no-op, so each event is
answered at most once; a reply that LINE refused (token expired or used, or an error answer, with
which LINE sends nothing) falls back to a push whose ``X-Line-Retry-Key`` derives from the LINE
event's id, so a retried push is a 409, not a second message; a reply with no answer at all may
have been delivered and is not pushed again. An event without a reply token is not answered.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from segment_service.adapters.line_api import AbstractLine, ReplyResult

log = logging.getLogger(__name__)

RETRY_KEY_NAMESPACE = uuid.UUID("6d1f3f0c-5d0b-4c53-9f55-8c3f4f1b2a11")


def retry_key_for(webhook_event_id: str, purpose: str) -> str:
    """The same key for the same event and purpose, on every pod and every attempt."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"{purpose}:{webhook_event_id}"))


def answer(line: AbstractLine, *, reply_token: str | None, user_id: str, messages: list[dict[str, Any]],
           retry_key: str) -> str:
    """How the answer went: replied, pushed or unknown."""
    if not reply_token:
        return "no reply token"  # LINE gave none (not an event one answers): no paid push either
    result = line.reply(reply_token, messages)
    if result is ReplyResult.REPLIED:
        return "replied"
    if result is ReplyResult.UNKNOWN:
        return "unknown"
    line.push(user_id, messages, retry_key)
    return "pushed"
