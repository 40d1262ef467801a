"""受信設定 in the chat: a resident's text or tap → (maybe) one change through the same command as the
LIFF page (source ``chat``, hence the same ``PreferencesChanged`` event) → the next step, sent after
the consumer commits (a reply, or one push under the event's retry key)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from cityline_common.messagebus import MessageBus

from segment_service.adapters.line_api import AbstractLine
from segment_service.domain import chat
from segment_service.domain.commands import ChangePreferencesOfLineUser
from segment_service.domain.preferences import Answers, ChangeSource, InvalidAnswers
from segment_service.service_layer import replies
from segment_service.service_layer.preferences import (
    NoTaxonomy,
    UnknownResident,
    current_taxonomy,
    preferences_of_line_user,
)
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

log = logging.getLogger(__name__)

STALE = "選択肢が新しくなりました。もう一度お選びください。"
NOT_YET = "受信設定は準備中です。しばらくしてからお試しください。"
NOT_A_FRIEND = "受信設定の前に、このアカウントを友だち追加してください。"


def tap_of(event: dict[str, Any]) -> chat.Tap | None:
    """The 受信設定 step a message or postback event asks for; None: not ours (other words, other
    systems' postbacks). InvalidPostback for data that claims to be ours but is not."""
    if event.get("type") == "message":
        message = event.get("message") or {}
        text = message.get("text") if isinstance(message, dict) and message.get("type") == "text" else None
        return chat.Tap("start") if isinstance(text, str) and len(text) <= 20 and chat.is_trigger(text) else None
    if event.get("type") == "postback":
        postback = event.get("postback") or {}
        if not isinstance(postback, dict):
            return None
        return chat.parse_postback(postback.get("data"), postback.get("params"))
    return None


def answer_tap(uow: AbstractSegmentUnitOfWork, bus: MessageBus[AbstractSegmentUnitOfWork], line_user_id: str,
               tap: chat.Tap, *, timezone: ZoneInfo, now: datetime | None = None) -> list[dict[str, Any]]:
    """Apply the tap inside the unit of work and answer the messages to send once it commits."""
    today = (now or datetime.now(UTC)).astimezone(timezone).date()
    current = current_taxonomy(uow)
    if current is None:
        return chat.notice(NOT_YET)
    if tap.step != "start" and tap.version != current.version:
        return chat.notice(STALE) + chat.step_messages("cat", current.taxonomy, current.version,
                                                      _answers(uow, line_user_id), today=today)
    chat.check_keys(tap, current.taxonomy)
    answers = _answers(uow, line_user_id)
    changed = chat.apply(tap, answers)
    if changed is not None:
        try:
            answers = bus.dispatch(ChangePreferencesOfLineUser(line_user_id, changed, ChangeSource.CHAT), uow).answers
        except UnknownResident:
            return chat.notice(NOT_A_FRIEND)
        except NoTaxonomy:
            return chat.notice(NOT_YET)
        except InvalidAnswers as exc:
            log.info("chat answers refused", extra={"reason": str(exc)[:200]})
            return chat.notice("その内容は登録できません。もう一度お選びください。") + chat.step_messages(
                chat.next_section(tap), current.taxonomy, current.version, answers, today=today)
    return chat.step_messages(chat.next_section(tap), current.taxonomy, current.version, answers, today=today,
                              page=tap.page)


def _answers(uow: AbstractSegmentUnitOfWork, line_user_id: str) -> Answers:
    return preferences_of_line_user(line_user_id)(uow) or Answers()


def handle_event(uow: AbstractSegmentUnitOfWork, bus: MessageBus[AbstractSegmentUnitOfWork], line: AbstractLine,
                 event: dict[str, Any], *, line_user_id: str, timezone: ZoneInfo) -> None:
    """The consumer's entry: nothing for events that are not 受信設定; InvalidPostback propagates."""
    tap = tap_of(event)
    if tap is None:
        return
    messages = answer_tap(uow, bus, line_user_id, tap, timezone=timezone)
    event_id = event.get("webhookEventId")
    reply_token = event.get("replyToken")
    if not isinstance(event_id, str) or not event_id:
        return
    uow.after_commit(partial(_send, line, reply_token=reply_token if isinstance(reply_token, str) else None,
                             user_id=line_user_id, messages=messages,
                             retry_key=replies.retry_key_for(event_id, "preferences-chat")))


def _send(line: AbstractLine, *, reply_token: str | None, user_id: str, messages: list[dict[str, Any]],
          retry_key: str) -> None:
    how = replies.answer(line, reply_token=reply_token, user_id=user_id, messages=messages, retry_key=retry_key)
    log.info("受信設定 answered", extra={"how": how})
