"""Send jobs (送信ジョブ): cutting a frozen recipient list into multicast batches, and what to do with LINE's answer.

Plain Python, no I/O, no clock and no randomness: moments and the jitter draw are passed in.

A delivery's recipients are frozen once, at start, as a list with positions 1..N. A job is a contiguous
slice of it (≤ 500 recipients: messaging-api.yml ``MulticastRequest.to`` maxItems 500) named by
(delivery id, job number, first position, last position). Its X-Line-Retry-Key is derived from exactly
those four values, so cutting the same list again after a crash yields the same jobs and the same keys,
and LINE answers 409 instead of sending twice (line-platform.md §2.4).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MULTICAST_MAX = 500  # OAS MulticastRequest.to maxItems
# Fixed for ever: changing it would change every retry key and let a resumed delivery send twice.
RETRY_KEY_NAMESPACE = uuid.UUID("5b0f3c1e-7d4a-5e61-9c2b-1a8e4f6d0c39")
RETRY_KEY_WINDOW = timedelta(hours=24)  # LINE forgets a retry key after 24 h (REF#retry-api-request)


@dataclass(frozen=True)
class SendJob:
    """Recipients ``first``..``last`` (1-based, inclusive) of a delivery's frozen list, sent as one multicast."""

    delivery_id: uuid.UUID
    number: int  # 1-based
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    @property
    def retry_key(self) -> uuid.UUID:
        """The X-Line-Retry-Key. The positions are part of it on purpose: should a job ever be cut
        differently, a different slice must not reuse a key LINE has already accepted (it would answer 409
        and those residents would silently get nothing)."""
        return retry_key_for(self.delivery_id, self.number, self.first, self.last)


def retry_key_for(delivery_id: uuid.UUID, number: int, first: int, last: int) -> uuid.UUID:
    return uuid.uuid5(RETRY_KEY_NAMESPACE, f"{delivery_id}/{number}/{first}-{last}")


def cut_jobs(delivery_id: uuid.UUID, recipients: int, size: int = MULTICAST_MAX) -> list[SendJob]:
    """Jobs covering positions 1..``recipients`` exactly once, in order, each of at most ``size``."""
    if not 1 <= size <= MULTICAST_MAX:
        raise ValueError(f"job size must be 1..{MULTICAST_MAX}")
    if recipients < 0:
        raise ValueError("recipients must not be negative")
    return [SendJob(delivery_id, number, first, min(first + size - 1, recipients))
            for number, first in enumerate(range(1, recipients + 1, size), start=1)]


class OutcomeKind(StrEnum):
    ACCEPTED = "accepted"  # 2xx
    ALREADY_ACCEPTED = "already_accepted"  # 409 on our retry key: an earlier attempt got through
    RETRYABLE = "retryable"  # 5xx or no answer (timeout, connection): retry with the same key
    RATE_LIMITED = "rate_limited"  # 429: back off, then retry with the same key
    FAILED = "failed"  # any other 4xx: LINE refused the request; retrying would not help


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    status: int | None = None  # HTTP status; None when there was no answer
    message: str = ""  # LINE's error message, kept for staff and logs
    retry_after: float | None = None  # seconds, if LINE ever sends Retry-After (it does not document one)

    @property
    def sent(self) -> bool:
        return self.kind in (OutcomeKind.ACCEPTED, OutcomeKind.ALREADY_ACCEPTED)

    @property
    def is_error(self) -> bool:
        """Counts towards "too many errors". A 429 does not: it is pacing, not breakage."""
        return self.kind in (OutcomeKind.RETRYABLE, OutcomeKind.FAILED)


def classify(status: int | None, message: str = "", retry_after: float | None = None) -> Outcome:
    """LINE's answer to one multicast attempt; ``status=None`` for a timeout or a broken connection."""
    if status is None or status >= 500:
        kind = OutcomeKind.RETRYABLE
    elif 200 <= status < 300:
        kind = OutcomeKind.ACCEPTED
    elif status == 409:
        kind = OutcomeKind.ALREADY_ACCEPTED
    elif status == 429:
        kind = OutcomeKind.RATE_LIMITED
    else:
        kind = OutcomeKind.FAILED
    return Outcome(kind, status, message, retry_after)


class StepKind(StrEnum):
    DONE = "done"  # the job is sent
    RETRY = "retry"  # try again after ``delay``, same key
    FAIL = "fail"  # give the job up; ``reason`` says why


@dataclass(frozen=True)
class Step:
    kind: StepKind
    delay: timedelta = timedelta(0)
    reason: str = ""  # Japanese, for staff, when FAIL


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped. ``max_attempts`` counts every try of one job.
    ``key_margin``: stop retrying this long before LINE forgets the retry key, so a late retry can never
    become a second send."""

    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int = 10
    key_margin: timedelta = timedelta(hours=1)

    def backoff(self, attempt: int, jitter: float) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based); ``jitter`` is a draw in [0, 1)."""
        ceiling: timedelta = min(self.cap, self.base * (2 ** min(attempt - 1, 30)))
        # Full jitter, but never zero: replicas that failed together should not retry together.
        floor: timedelta = self.base / 2
        return max(ceiling * jitter, floor)


def next_step(outcome: Outcome, *, attempt: int, first_tried_at: datetime, now: datetime, jitter: float,
              policy: RetryPolicy | None = None) -> Step:
    """What to do after attempt number ``attempt`` of a job ended with ``outcome``."""
    policy = policy or RetryPolicy()
    if outcome.sent:
        return Step(StepKind.DONE)
    if outcome.kind is OutcomeKind.FAILED:
        detail = f": {outcome.message}" if outcome.message else ""
        return Step(StepKind.FAIL, reason=f"LINEが送信を受け付けませんでした（{outcome.status}）{detail}")
    delay = policy.backoff(attempt, jitter)
    if outcome.kind is OutcomeKind.RATE_LIMITED and outcome.retry_after is not None:
        delay = max(delay, timedelta(seconds=outcome.retry_after))
    if attempt >= policy.max_attempts:
        return Step(StepKind.FAIL, reason=f"LINEへの送信を{attempt}回試みましたが、完了しませんでした。")
    if now + delay >= first_tried_at + RETRY_KEY_WINDOW - policy.key_margin:
        return Step(StepKind.FAIL,
                    reason="再送信キーの有効期限（24時間）が近いため、二重送信を避けて送信を打ち切りました。")
    return Step(StepKind.RETRY, delay)


@dataclass(frozen=True)
class ErrorBudget:
    """The "too many errors" rule: when more than ``max_failure_ratio`` of the last ``window`` attempts
    were errors (:attr:`Outcome.is_error`), the delivery pauses itself instead of grinding on against a
    broken LINE or a broken message. Needs at least ``minimum`` attempts before judging."""

    window: int = 20
    max_failure_ratio: float = 0.3
    minimum: int = 5

    def verdict(self, recent: Sequence[Outcome]) -> str | None:
        """``None`` to carry on, or the plain-Japanese reason to pause with (oldest outcome first)."""
        last = list(recent)[-self.window:]
        errors = sum(1 for each in last if each.is_error)
        if len(last) < self.minimum or errors <= self.max_failure_ratio * len(last):
            return None
        return (f"直近{len(last)}回の送信のうち{errors}回でエラーが起きたため、配信を自動で一時停止しました。"
                "LINEの障害情報や配信内容を確認してから再開してください。")
