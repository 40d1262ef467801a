"""The city's own words to residents (account texts) and the greeting built from them. No I/O.

Staff edit the texts (システム管理者, ``PUT /internal/account-texts/<key>``); until they do, the
defaults below are used (no city's name in them: any municipality runs this; staff put
theirs in). The greeting always carries the way into 受信設定: a quick reply whose
postback starts the chat flow (``action=preferences``, the same data as the rich-menu tap).
"""

from __future__ import annotations

from typing import Any

from segment_service.domain.model import FollowOutcome

GREETING = "greeting"
GREETING_REFOLLOW = "greeting_refollow"

DEFAULT_TEXTS: dict[str, str] = {
    GREETING: (
        "友だち追加していただき、ありがとうございます。\n"
        "防災・子育て・健康・イベント・ごみなど、必要な情報だけを受け取れます。\n"
        "下の「受信設定をする」を押すか、「受信設定」と送信して、受け取りたい情報を選んでください。"
    ),
    GREETING_REFOLLOW: (
        "おかえりなさい。ふたたび友だち追加していただき、ありがとうございます。\n"
        "以前の受信設定はそのまま残っています。変更するときは「受信設定」と送信してください。"
    ),
}
KEYS = frozenset(DEFAULT_TEXTS)
MAX_TEXT_LENGTH = 1000  # LINE allows 5,000 characters; a greeting is read on a phone

PREFERENCES_POSTBACK = "action=preferences"  # starts the 受信設定 chat flow (also the rich menu's data)


class InvalidAccountText(ValueError):
    pass


def validate_text(key: str, text: object) -> str:
    """The text to store, or InvalidAccountText saying what is wrong."""
    if key not in KEYS:
        raise InvalidAccountText(f"unknown text {key!r}; the texts are {', '.join(sorted(KEYS))}")
    if not isinstance(text, str):
        raise InvalidAccountText("text must be a string")
    cleaned = text.replace("\r\n", "\n").strip()
    if not cleaned:
        raise InvalidAccountText("text must not be empty")
    if len(cleaned) > MAX_TEXT_LENGTH:
        raise InvalidAccountText(f"text must be at most {MAX_TEXT_LENGTH} characters")
    if any(ord(char) < 32 and char not in "\n\t" for char in cleaned):
        raise InvalidAccountText("text must not contain control characters")
    return cleaned


def greeting_key(outcome: FollowOutcome) -> str | None:
    """The text a follow outcome is greeted with; None: no greeting (nothing changed)."""
    if outcome is FollowOutcome.FIRST:
        return GREETING
    if outcome is FollowOutcome.REFOLLOWED:
        return GREETING_REFOLLOW
    return None


def greeting_messages(text: str) -> list[dict[str, Any]]:
    """One text message (LINE's JSON) with a quick reply into 受信設定."""
    return [{
        "type": "text",
        "text": text,
        "quickReply": {"items": [{
            "type": "action",
            "action": {"type": "postback", "label": "受信設定をする", "data": PREFERENCES_POSTBACK,
                       "displayText": "受信設定"},
        }]},
    }]
