"""Sending one job: open its recipients, multicast with its retry key at the channel's pace, retry as the
domain says, settle it. The sender process runs many of these at once (entrypoints/sender.py).

Exactly once, whatever crashes: a job is sent with its own X-Line-Retry-Key; if the process dies after LINE
accepted it but before the job was settled, the job's message comes back (never acked) and the retry gets
409 (already accepted), which settles it as sent. A settled job is never sent again."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityline_common.messagebus import MessageBus
from prometheus_client import Counter, Histogram

from dispatcher.adapters.line import AbstractLineSender
from dispatcher.adapters.segments import AbstractRecipients
from dispatcher.contracts import SendJobQueued
from dispatcher.domain import commands as c
from dispatcher.domain.jobs import ErrorBudget, Outcome, OutcomeKind, RetryPolicy, StepKind, next_step
from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork

log = logging.getLogger(__name__)

MULTICASTS = Counter("dispatcher_multicast_requests_total", "Multicast attempts by outcome", ["outcome"])
RECIPIENTS = Counter("dispatcher_recipients_total", "Recipients of settled jobs by result", ["result"])
MULTICAST_SECONDS = Histogram("dispatcher_multicast_seconds", "Time LINE took to answer one multicast",
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class RateLimiter:
    """A token bucket: at most ``rate`` acquisitions a second on average, bursts of ``burst``. One per
    process; the queue's single active consumer makes it the channel's only budget."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = burst if burst is not None else max(1.0, rate / 20)
        self._tokens = self._burst
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self._rate
            time.sleep(wait)


@dataclass(frozen=True)
class JobContext:
    status: str  # the job's
    send_status: str
    messages: list[Any]
    unit: str | None


def job_context(send_id: uuid.UUID, number: int) -> Callable[[AbstractDispatcherUnitOfWork], JobContext | None]:
    def view(uow: AbstractDispatcherUnitOfWork) -> JobContext | None:
        job = uow.sends.job(send_id, number)
        send = uow.sends.get(send_id)
        if job is None or send is None:
            return None
        stored = uow.deliveries.get(send.delivery_id)
        return JobContext(job.status, send.status, send.messages, stored.aggregation_unit if stored else None)

    return view


class SendLoop:
    """What the sender does with each job message (thread-safe: many jobs run at once)."""

    def __init__(self, bus: MessageBus[AbstractDispatcherUnitOfWork], recipients: AbstractRecipients,
                 line: AbstractLineSender, limiter: RateLimiter, *, clock: Callable[[], datetime],
                 policy: RetryPolicy | None = None, budget: ErrorBudget | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._bus = bus
        self._recipients = recipients
        self._line = line
        self._limiter = limiter
        self._clock = clock
        self._policy = policy or RetryPolicy()
        # Half of the last 20 attempts failing is a broken LINE or a broken message, not bad luck: at 5%
        # random faults that takes ten failures in twenty, which does not happen in a million sends.
        self._budget = budget or ErrorBudget(window=20, max_failure_ratio=0.5, minimum=10)
        self._sleep = sleep
        self._recent: dict[uuid.UUID, deque[Outcome]] = {}
        self._lock = threading.Lock()

    def _paused_for_errors(self, send_id: uuid.UUID, outcome: Outcome) -> bool:
        with self._lock:
            recent = self._recent.setdefault(send_id, deque(maxlen=self._budget.window))
            recent.append(outcome)
            reason = self._budget.verdict(list(recent))
            if reason:
                recent.clear()
        if reason:
            log.warning("delivery paused for errors", extra={"send": str(send_id), "reason": reason})
            self._bus.handle(c.PauseForErrors(send_id, reason))
            return True
        return False

    def run(self, job: SendJobQueued) -> str:  # noqa: PLR0911 - one return per outcome
        """Send one job to the end (sent, failed, or left pending because its send is paused); the outcome
        in a word, for logs and tests. Raises on infrastructure errors (the message is then requeued)."""
        context = self._bus.query(job_context(job.send_id, job.number))
        if context is None:
            return "unknown"
        if context.status != "pending":
            return "already-settled"
        if context.send_status != "sending":
            return "not-sending"  # paused or cancelled: resume queues the pending jobs again
        to = self._recipients.line_user_ids(job.send_id, job.first, job.last)
        first_tried = self._clock()
        attempt = 0
        while True:
            attempt += 1
            self._limiter.acquire()
            started = time.monotonic()
            sent = self._line.multicast(to, context.messages, job.retry_key, context.unit)
            MULTICAST_SECONDS.observe(time.monotonic() - started)
            MULTICASTS.labels(sent.outcome.kind.value).inc()
            step = next_step(sent.outcome, attempt=attempt, first_tried_at=first_tried, now=self._clock(),
                             jitter=random.random(), policy=self._policy)  # noqa: S311 - jitter, not a secret
            if step.kind is StepKind.DONE:
                self._bus.handle(c.SettleJob(job.send_id, job.number, "sent", attempt, sent.request_id))
                RECIPIENTS.labels("sent").inc(len(to))
                return "sent" if sent.outcome.kind is OutcomeKind.ACCEPTED else "already-accepted"
            if step.kind is StepKind.FAIL:
                self._bus.handle(c.SettleJob(job.send_id, job.number, "failed", attempt, None, step.reason))
                RECIPIENTS.labels("failed").inc(len(to))
                self._paused_for_errors(job.send_id, sent.outcome)
                return "failed"
            if sent.outcome.is_error and self._paused_for_errors(job.send_id, sent.outcome):
                return "paused"
            self._sleep(step.delay.total_seconds())
            again = self._bus.query(job_context(job.send_id, job.number))
            if again is None or again.status != "pending" or again.send_status != "sending":
                return "not-sending"
