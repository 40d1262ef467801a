"""The greeting on follow and on re-follow: chosen in the follow's transaction, sent after it commits."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from segment_service.adapters.line_api import AbstractLine
from segment_service.domain import texts
from segment_service.domain.model import FollowOutcome
from segment_service.service_layer import replies, views
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

log = logging.getLogger(__name__)


def greet_after_commit(uow: AbstractSegmentUnitOfWork, line: AbstractLine, outcome: FollowOutcome,
                       event: dict[str, Any], line_user_id: str) -> None:
    """A first follow gets the city's greeting, a re-follow the re-follow text (their answers were
    kept); a follow that changed nothing (a repeat, an older event) gets nothing."""
    key = texts.greeting_key(outcome)
    if key is None:
        return
    messages = texts.greeting_messages(views.greeting_text(key)(uow))
    reply_token = event.get("replyToken")
    event_id = event.get("webhookEventId")
    if not isinstance(event_id, str) or not event_id:
        return  # no id to derive a retry key from: do not risk a second message
    uow.after_commit(partial(_send, line, key, reply_token=reply_token if isinstance(reply_token, str) else None,
                             user_id=line_user_id, messages=messages,
                             retry_key=replies.retry_key_for(event_id, key)))


def _send(line: AbstractLine, key: str, *, reply_token: str | None, user_id: str, messages: list[dict[str, Any]],
          retry_key: str) -> None:
    how = replies.answer(line, reply_token=reply_token, user_id=user_id, messages=messages, retry_key=retry_key)
    log.info("greeted", extra={"text": key, "how": how})
