"""segment-service's calls to the LINE Messaging API (line-bot-sdk v3): follower ids, profiles, replies
and pushes, paced under the channel's rate limits and backing off on 429 and server errors.

Rate limits are the channel's, shared by every process (shared/reference/line-platform.md §3: the
follower-id, profile, reply and push endpoints share 2,000 requests/s). A batch tool therefore paces
itself well below that (``max_rate``) and leaves the rest to the services sending messages. LINE
documents no ``Retry-After`` header; one is honoured when present, otherwise backoff is exponential
with jitter.
"""

from __future__ import annotations

import abc
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import urllib3.exceptions
from cityline_common.line_client import line_clients
from cityline_common.settings import LineSettings
from linebot.v3.messaging import ApiException, MessagingApi, PushMessageRequest, ReplyMessageRequest

log = logging.getLogger(__name__)
T = TypeVar("T")
TIMEOUT = (3.05, 10.0)  # connect, read (seconds): a hanging LINE must not hang a consumer


class Pacer:
    """At most ``per_second`` calls per second from this object (a steady interval, no bursts)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            at = max(now, self._next)
            self._next = at + self._interval
        if at > now:
            self._sleep(at - now)


class PageTokenRefused(Exception):
    """LINE no longer accepts a saved ``next`` token (a run resumed long after it stopped)."""


class GaveUp(Exception):
    """LINE kept answering 429 or 5xx (or did not answer) through every attempt."""


def retry_after(error: ApiException) -> float | None:
    headers = getattr(error, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return min(max(float(value), 0.0), 300.0) if value is not None else None
    except (TypeError, ValueError):
        return None


def with_backoff(call: Callable[[], T], *, pacer: Pacer, attempts: int = 8, base: float = 0.5, cap: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, on_wait: Callable[[float, str], None] | None = None) -> T:
    """``call`` paced; a 429, a 5xx or no answer is retried after ``Retry-After`` or an exponential
    delay with jitter; any other error is raised at once (it will not get better by waiting)."""
    for attempt in range(attempts):
        pacer.wait()
        try:
            return call()
        except ApiException as exc:
            if exc.status != 429 and not (exc.status or 0) >= 500:
                raise
            reason = f"HTTP {exc.status}"
            delay = retry_after(exc)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason, delay = type(exc).__name__, None
        if attempt == attempts - 1:
            raise GaveUp(f"LINE answered {reason} {attempts} times")
        if delay is None:
            delay = min(cap, base * 2 ** attempt) * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not secrets)
        if on_wait is not None:
            on_wait(delay, reason)
        sleep(delay)
    raise AssertionError("unreachable")


class ReplyResult(StrEnum):
    REPLIED = "replied"
    NOT_SENT = "not_sent"  # safe to push instead
    UNKNOWN = "unknown"  # LINE may have sent it: pushing could send it twice


@dataclass(frozen=True)
class Profile:
    display_name: str
    language: str | None


class AbstractLine(abc.ABC):
    """The LINE calls segment-service makes (the emulator in tests, LINE in production)."""

    @abc.abstractmethod
    def follower_ids(self, start: str | None, limit: int) -> tuple[list[str], str | None]:
        """One page of follower ids and LINE's ``next`` (None on the last page)."""

    @abc.abstractmethod
    def profile(self, user_id: str) -> Profile | None:
        """None when LINE has no profile for us (not a friend any more, or no consent)."""

    @abc.abstractmethod
    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> ReplyResult:
        """Whether LINE took the reply, surely did not (the token used up or expired, or an error
        answer: LINE sends nothing then), or may have (no answer)."""

    @abc.abstractmethod
    def push(self, user_id: str, messages: list[dict[str, Any]], retry_key: str) -> None:
        """Push with ``X-Line-Retry-Key``; a 409 (LINE already accepted this key) counts as sent."""


class SdkLine(AbstractLine):
    def __init__(self, settings: LineSettings, max_rate: float = 100.0,
                 on_wait: Callable[[float, str], None] | None = None, *, attempts: int = 8, cap: float = 60.0) -> None:
        """``attempts`` and ``cap`` bound the backoff: a batch tool waits out a long 429 spell, a
        consumer answering a resident must not hold its queue for a minute (it gives up sooner)."""
        self._clients = line_clients(settings, pool_size=4)
        self._api: MessagingApi = self._clients.messaging
        self._pacer = Pacer(max_rate)
        self._on_wait = on_wait
        self._attempts, self._cap = attempts, cap

    def close(self) -> None:
        self._clients.close()

    def _call(self, call: Callable[[], T]) -> T:
        return with_backoff(call, pacer=self._pacer, on_wait=self._on_wait, attempts=self._attempts, cap=self._cap)

    def follower_ids(self, start: str | None, limit: int) -> tuple[list[str], str | None]:
        try:
            response = self._call(lambda: self._api.get_followers(start=start, limit=limit, _request_timeout=TIMEOUT))
        except ApiException as exc:
            if exc.status == 400 and start is not None:
                raise PageTokenRefused(str(exc.body)[:200]) from None
            raise
        return list(response.user_ids or []), response.next or None

    def profile(self, user_id: str) -> Profile | None:
        try:
            found = self._call(lambda: self._api.get_profile(user_id, _request_timeout=TIMEOUT))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return Profile(display_name=found.display_name, language=found.language)

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> ReplyResult:
        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        try:
            # Not retried: a reply token is single use, a repeat after a lost answer fails anyway.
            self._pacer.wait()
            self._api.reply_message(request, _request_timeout=TIMEOUT)
        except ApiException as exc:
            if exc.status in (400, 429) or (exc.status or 0) >= 500:
                log.warning("LINE refused a reply", extra={"status": exc.status})
                return ReplyResult.NOT_SENT
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("no answer from LINE to a reply", extra={"error": type(exc).__name__})
            return ReplyResult.UNKNOWN
        return ReplyResult.REPLIED

    def push(self, user_id: str, messages: list[dict[str, Any]], retry_key: str) -> None:
        request = PushMessageRequest.from_dict({"to": user_id, "messages": messages})
        try:
            self._call(lambda: self._api.push_message(request, x_line_retry_key=retry_key, _request_timeout=TIMEOUT))
        except ApiException as exc:
            if exc.status != 409:  # 409: accepted before under this key: sent, not again
                raise
