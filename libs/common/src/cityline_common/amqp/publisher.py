"""A publisher with asynchronous publisher confirms, safe to call from many threads.

One I/O thread owns a pika ``SelectConnection``; callers hand it messages through
``add_callback_threadsafe`` and receive a :class:`concurrent.futures.Future` that resolves when the
broker confirms (quorum queues confirm once a quorum has the message on disk). Confirms are
batched by the broker, so many concurrent publishers share one fsync instead of each waiting for
its own — the reason this is not a BlockingConnection.

Every publish is persistent and ``mandatory``: a message no queue would take fails with
:class:`PublishUnroutable` instead of vanishing. When the broker is down, publishes fail at once
with :class:`BrokerUnavailable`; the I/O thread reconnects with capped exponential backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import pika
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic

from cityline_common.amqp.messages import OutboundMessage
from cityline_common.metrics import MESSAGES_PUBLISHED

log = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker did not take responsibility for the message."""


class BrokerUnavailable(PublishError):
    pass


class PublishNacked(PublishError):
    pass


class PublishUnroutable(PublishError):
    pass


def await_confirms(futures: Sequence[Future[None]], timeout: float) -> list[PublishError | None]:
    """Wait for every confirm until one shared deadline; a confirm still missing then is an error."""
    deadline = time.monotonic() + timeout
    results: list[PublishError | None] = []
    for future in futures:
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            results.append(None)
        except FutureTimeout:
            results.append(BrokerUnavailable(f"no confirm within {timeout}s"))
        except PublishError as exc:
            results.append(exc)
    return results


class ConfirmingPublisher:
    def __init__(
        self,
        url: str,
        *,
        name: str = "publisher",
        heartbeat: int = 15,
        max_backoff: float = 30.0,
    ) -> None:
        self._params = pika.URLParameters(url)
        self._params.heartbeat = heartbeat
        self._params.blocked_connection_timeout = 30
        self._params.connection_attempts = 1
        self._params.socket_timeout = 5
        self._params.client_properties = {"connection_name": name}
        self._name = name
        self._max_backoff = max_backoff
        self._connection: pika.SelectConnection | None = None
        self._channel: Channel | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Owned by the I/O thread only.
        self._next_tag = 1
        self._pending: dict[int, tuple[Future[None], OutboundMessage]] = {}
        self._returned: set[str] = set()
        self._backoff = 0.5

    # -- caller side ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self, wait: float = 5.0) -> bool:
        """Start the I/O thread; wait up to ``wait`` seconds for the first connection."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self._name}-io", daemon=True)
            self._thread.start()
        return self._ready.wait(wait)

    def publish(self, message: OutboundMessage) -> Future[None]:
        future: Future[None] = Future()
        connection = self._connection
        if not self._ready.is_set() or connection is None:
            MESSAGES_PUBLISHED.labels(message.exchange, "unavailable").inc()
            future.set_exception(BrokerUnavailable("not connected to the broker"))
            return future
        try:
            connection.ioloop.add_callback_threadsafe(lambda: self._do_publish(message, future))
        except Exception as exc:  # the loop is closing under us
            MESSAGES_PUBLISHED.labels(message.exchange, "unavailable").inc()
            future.set_exception(BrokerUnavailable(f"connection closing: {exc}"))
        return future

    def publish_many(self, messages: Sequence[OutboundMessage]) -> list[Future[None]]:
        """Like :meth:`publish` for each message, in order, but handed to the I/O thread in one go
        (one wake-up of its loop for the whole batch, not one per message)."""
        futures: list[Future[None]] = [Future() for _ in messages]
        connection = self._connection
        if not self._ready.is_set() or connection is None:
            self._fail_now(messages, futures, "not connected to the broker")
            return futures
        try:
            connection.ioloop.add_callback_threadsafe(lambda: self._do_publish_many(messages, futures))
        except Exception as exc:  # the loop is closing under us
            self._fail_now(messages, futures, f"connection closing: {exc}")
        return futures

    def publish_all(self, messages: Sequence[OutboundMessage], timeout: float) -> list[PublishError | None]:
        """Publish a batch; return, in order, ``None`` for each confirmed message or its error.

        ``timeout`` bounds the whole batch, not each message: a broker that withholds confirms costs
        the caller ``timeout`` once, however many messages it sent (LINE's 2-second budget, the
        relay's row locks)."""
        return await_confirms(self.publish_many(messages), timeout)

    def publish_and_wait(self, message: OutboundMessage, timeout: float = 5.0) -> None:
        (error,) = self.publish_all([message], timeout)
        if error is not None:
            raise error

    def close(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._close_connection)
            except Exception:
                log.debug("publisher loop already closed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout)

    # -- I/O thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._connection = pika.SelectConnection(
                    self._params,
                    on_open_callback=self._on_connection_open,
                    on_open_error_callback=self._on_connection_open_error,
                    on_close_callback=self._on_connection_closed,
                )
                self._connection.ioloop.start()
            except Exception:
                log.exception("publisher I/O loop failed")
            self._ready.clear()
            self._fail_pending("connection lost")
            if self._stopping.wait(self._backoff):
                break
            self._backoff = min(self._backoff * 2, self._max_backoff)

    def _on_connection_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_open_error(self, connection: pika.SelectConnection, error: BaseException) -> None:
        log.warning("publisher cannot connect to broker", extra={"error": str(error)[:200]})
        connection.ioloop.stop()

    def _on_connection_closed(self, connection: pika.SelectConnection, reason: BaseException) -> None:
        self._ready.clear()
        self._channel = None
        if not self._stopping.is_set():
            log.warning("publisher connection closed", extra={"reason": str(reason)[:200]})
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame: Method) -> None:
        self._next_tag = 1
        self._backoff = 0.5
        self._ready.set()
        log.info("publisher connected", extra={"publisher": self._name})

    def _on_channel_closed(self, channel: Channel, reason: BaseException) -> None:
        # A channel error (e.g. a missing exchange) ends the channel; start clean on a new connection.
        self._ready.clear()
        self._channel = None
        if not self._stopping.is_set():
            log.warning("publisher channel closed", extra={"reason": str(reason)[:200]})
        self._fail_pending(f"channel closed: {reason}")
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    def _close_connection(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    @staticmethod
    def _fail_now(messages: Sequence[OutboundMessage], futures: list[Future[None]], why: str) -> None:
        for message, future in zip(messages, futures, strict=True):
            MESSAGES_PUBLISHED.labels(message.exchange, "unavailable").inc()
            future.set_exception(BrokerUnavailable(why))

    def _do_publish_many(self, messages: Sequence[OutboundMessage], futures: list[Future[None]]) -> None:
        for message, future in zip(messages, futures, strict=True):
            self._do_publish(message, future)

    def _do_publish(self, message: OutboundMessage, future: Future[None]) -> None:
        channel = self._channel
        if channel is None or not channel.is_open or not self._ready.is_set():
            MESSAGES_PUBLISHED.labels(message.exchange, "unavailable").inc()
            future.set_exception(BrokerUnavailable("channel not open"))
            return
        try:
            channel.basic_publish(
                message.exchange, message.routing_key, message.body, message.properties(), mandatory=True
            )
        except Exception as exc:
            MESSAGES_PUBLISHED.labels(message.exchange, "unavailable").inc()
            future.set_exception(BrokerUnavailable(f"publish failed: {exc}"))
            return
        self._pending[self._next_tag] = (future, message)
        self._next_tag += 1

    def _on_return(self, _channel: Channel, _method: Basic.Return, properties: Any, _body: bytes) -> None:
        if properties.message_id:
            self._returned.add(properties.message_id)

    def _on_confirm(self, frame: Method) -> None:
        method = frame.method
        tag: int = method.delivery_tag
        tags = [t for t in self._pending if t <= tag] if method.multiple else [tag]
        acked = isinstance(method, Basic.Ack)
        for each in tags:
            entry = self._pending.pop(each, None)
            if entry is None:
                continue
            future, message = entry
            if not acked:
                MESSAGES_PUBLISHED.labels(message.exchange, "nacked").inc()
                future.set_exception(PublishNacked("broker refused the message"))
            elif message.message_id in self._returned:
                self._returned.discard(message.message_id)
                MESSAGES_PUBLISHED.labels(message.exchange, "returned").inc()
                future.set_exception(
                    PublishUnroutable(f"no queue bound for {message.exchange}/{message.routing_key}")
                )
            else:
                MESSAGES_PUBLISHED.labels(message.exchange, "confirmed").inc()
                future.set_result(None)

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        self._returned.clear()
        for future, message in pending.values():
            MESSAGES_PUBLISHED.labels(message.exchange, "unavailable").inc()
            if not future.done():
                future.set_exception(BrokerUnavailable(why))
