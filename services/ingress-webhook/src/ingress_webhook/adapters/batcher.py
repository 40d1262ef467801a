"""Group commit: the webhook requests a worker process holds at the same moment are taken in one
transaction with one confirm wait, instead of one transaction and one wait each.

Each request thread hands its verified request to :meth:`GroupCommit.take` and waits for its own
result. One thread per process (started on first use, inside the gunicorn worker) takes everything
waiting — up to ``max_weight`` events — as one batch, runs the batch function (the service layer's
:meth:`ingress_webhook.service_layer.handlers.Taker.take_batch`) and hands each request its result.
There is no timer by default: while one batch is being taken the next one gathers, so batches grow
with the load by themselves and a quiet server answers at once. ``max_wait`` holds a batch open a
little longer for company (``WEBHOOK_BATCH_WAIT_MS``).

This adapter knows nothing of webhooks: what a batch means (one claim, one deadline, one commit,
one result per request) is the service layer's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from ingress_webhook import metrics

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Waiting(Generic[T, R]):
    """One request waiting for its batch; ``done`` is held until its result is in."""

    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = threading.Lock()
        self.done.acquire()


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        take_batch: Callable[[Sequence[T]], list[R]],
        *,
        weight: Callable[[T], int] | None = None,
        max_weight: int = 500,
        max_wait: float = 0.0,
        concurrency: int = 1,
        name: str = "group-commit",
    ) -> None:
        self._take_batch = take_batch
        self._weight = weight or (lambda _: 1)
        self._max_weight = max_weight
        self._max_wait = max_wait
        self._name = name
        self._ready = threading.Condition(threading.Lock())
        self._queue: deque[tuple[_Waiting[T, R], int]] = deque()
        self._queued_weight = 0
        self._concurrency = concurrency
        self._threads: list[threading.Thread] = []
        self._stopping = False

    @property
    def waiting(self) -> int:
        """Requests queued for the next batch (not the one being taken)."""
        return len(self._queue)

    def take(self, item: T) -> R:
        """Wait for the batch ``item`` rides in to be taken; its own result (or error)."""
        waiting: _Waiting[T, R] = _Waiting(item)
        weight = self._weight(item)
        with self._ready:
            if self._stopping:
                raise RuntimeError(f"{self._name} is closed")
            self._queue.append((waiting, weight))
            self._queued_weight += weight
            if not self._threads:
                self._threads = [threading.Thread(target=self._run, name=f"{self._name}-{index}", daemon=True)
                                 for index in range(self._concurrency)]
                for thread in self._threads:
                    thread.start()
            self._ready.notify()
        waiting.done.acquire()
        if waiting.error is not None:
            raise waiting.error
        return waiting.result  # type: ignore[return-value]  # set whenever error is not

    def close(self, timeout: float = 5.0) -> None:
        """Take what is waiting, then stop the threads."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def _next_batch(self) -> list[_Waiting[T, R]] | None:
        with self._ready:
            while not self._queue:
                if self._stopping:
                    return None
                self._ready.wait()
            if self._max_wait > 0:
                until = time.monotonic() + self._max_wait
                while self._queued_weight < self._max_weight and not self._stopping:
                    remaining = until - time.monotonic()
                    if remaining <= 0:
                        break
                    self._ready.wait(remaining)
            batch: list[_Waiting[T, R]] = []
            taken = 0
            while self._queue and (not batch or taken + self._queue[0][1] <= self._max_weight):
                waiting, weight = self._queue.popleft()
                batch.append(waiting)
                taken += weight
            self._queued_weight -= taken
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            metrics.BATCH_REQUESTS.observe(len(batch))
            try:
                results = self._take_batch([waiting.item for waiting in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
            except Exception as exc:  # every waiting request hears of it; the thread carries on
                log.exception("taking a batch failed", extra={"requests": len(batch)})
                for waiting in batch:
                    waiting.error = exc
                    waiting.done.release()
                continue
            for waiting, result in zip(batch, results, strict=True):
                waiting.result = result
                waiting.done.release()
