"""A consumer base that loses nothing and handles nothing twice.

For each delivery: open a unit of work, claim the message id for this consumer (a duplicate is
acked and skipped), run the service's handler, commit, and only then ack. So

* a crash before commit redelivers the message (manual ack; unacked deliveries are requeued);
* a crash after commit but before ack redelivers it too, and the claim turns it into a no-op;
* a :class:`PoisonMessage` or :class:`~cityline_common.contracts.ContractViolation` (it can never
  succeed: bad JSON, unknown type or version, a body its contract refuses) is dead-lettered at
  once to ``<queue>.dlq`` with the reason in the ``x-error`` header, and logged;
* a transient failure (the database or another dependency unavailable: :func:`is_transient`) is
  retried in place with capped backoff, the message held unacked, without spending the queue's
  delivery limit, for as long as the outage lasts;
* any other error is retried by requeue with backoff; the queue's delivery limit dead-letters a
  message that keeps failing, so one bad message cannot block a queue forever.

pika's BlockingConnection cannot answer heartbeats while a callback runs, so deliveries are taken
from the ``consume()`` generator and the handler runs on a worker thread while this thread keeps
servicing the connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import pika
import pika.exceptions
from opentelemetry import trace
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cityline_common.amqp.messages import InboundMessage
from cityline_common.amqp.topology import DLX, Queue, declare
from cityline_common.contracts import Contract, ContractCatalogue, ContractViolation
from cityline_common.metrics import CONSUME_OUTCOMES, DEPENDENCY_WAITS, MESSAGE_HANDLING, MESSAGES_CONSUMED
from cityline_common.tracing import continued_trace
from cityline_common.unit_of_work import AbstractUnitOfWork

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)


class PoisonMessage(Exception):
    """The message can never be handled as it is; dead-letter it with this reason."""


class RetryableError(Exception):
    """A dependency is briefly unavailable; the message is held and tried again when it is back."""


def is_transient(error: BaseException | None) -> bool:
    """A failure that says nothing about the message: the database or a service it needs is away."""
    if error is None:
        return False
    if isinstance(error, RetryableError | OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _describe(error: BaseException | None) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


U = TypeVar("U", bound=AbstractUnitOfWork)

Handler = Callable[[InboundMessage, U], None]
"""Does the work inside the consumer's transaction. Must not commit: the consumer does."""


def contract_handler(handles: tuple[type[Contract], ...], deliver: Callable[[Contract, U], None]) -> Handler[U]:
    """A :data:`Handler` that decodes each message by its contract before ``deliver`` sees it.

    An unknown type or version, or a body that does not validate, is poison: it is dead-lettered
    with the reason and ``deliver`` never runs.
    """
    catalogue = ContractCatalogue(handles)

    def handle(message: InboundMessage, uow: U) -> None:
        deliver(catalogue.decode(message.type, message.body), uow)

    return handle

_CONNECTION_ERRORS = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    pika.exceptions.ConnectionClosedByBroker,
    ConnectionError,
    OSError,
)


class Consumer(Generic[U]):
    def __init__(
        self,
        *,
        url: str,
        queue: Queue,
        name: str,
        uow_factory: Callable[[], U],
        handler: Handler[U],
        prefetch: int = 50,
        heartbeat: int = 15,
        max_backoff: float = 30.0,
        retry_delay: float = 0.5,
        declare_topology: bool = True,
    ) -> None:
        self.queue = queue
        self.name = name
        self._params = pika.URLParameters(url)
        self._params.heartbeat = heartbeat
        self._params.blocked_connection_timeout = 60
        self._params.client_properties = {"connection_name": f"{name}-consumer"}
        self._uow_factory = uow_factory
        self._handler = handler
        self._prefetch = prefetch
        self._max_backoff = max_backoff
        self._retry_delay = retry_delay
        self._declare_topology = declare_topology
        self._stop = threading.Event()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-handler")
        self.connected = threading.Event()
        for outcome in CONSUME_OUTCOMES:
            MESSAGES_CONSUMED.labels(queue.name, outcome)

    def stop(self) -> None:
        self._stop.set()

    def check_consuming(self) -> None:
        """A readiness check: raises while the consumer is not connected to its queue."""
        if not self.connected.is_set():
            raise RuntimeError(f"not consuming {self.queue.name}")

    def run(self) -> None:
        """Consume until :meth:`stop`; reconnect with capped exponential backoff on any broker loss."""
        backoff = 0.5
        while not self._stop.is_set():
            try:
                connection = BlockingConnection(self._params)
            except _CONNECTION_ERRORS as exc:
                log.warning("consumer cannot connect", extra={"queue": self.queue.name, "error": str(exc)[:200]})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            try:
                backoff = 0.5
                self._consume(connection)
            except _CONNECTION_ERRORS as exc:
                log.warning("consumer lost the broker", extra={"queue": self.queue.name, "error": str(exc)[:200]})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                self.connected.clear()
                if connection.is_open:
                    try:
                        connection.close()
                    except Exception:
                        log.debug("closing a broken connection failed", exc_info=True)
        self._worker.shutdown(wait=True)

    def _consume(self, connection: BlockingConnection) -> None:
        channel = connection.channel()
        if self._declare_topology:
            declare(channel, (self.queue,))
        channel.basic_qos(prefetch_count=self._prefetch)
        channel.confirm_delivery()  # dead-letter republishes below are confirmed
        self.connected.set()
        log.info("consumer started", extra={"queue": self.queue.name, "consumer": self.name})
        for method, properties, body in channel.consume(self.queue.name, inactivity_timeout=0.5):
            if self._stop.is_set():
                break
            if method is None:
                continue
            self._deliver(connection, channel, method, properties, body)
        channel.cancel()

    def _deliver(
        self,
        connection: BlockingConnection,
        channel: BlockingChannel,
        method: Any,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        started = time.perf_counter()
        message = InboundMessage(
            queue=self.queue.name,
            routing_key=method.routing_key,
            exchange=method.exchange,
            message_id=properties.message_id or "",
            type=properties.type or "",
            body=body,
            headers=dict(properties.headers or {}),
            redelivered=bool(method.redelivered),
        )
        future = self._run_handler(connection, message)
        waited = 0
        # A dependency that is away (the database restarting, say) is waited for with the message
        # held: retrying by requeue would spend the queue's delivery limit and dead-letter good
        # messages during a one-minute outage. Only bad input (poison) or a bug spends it.
        while is_transient(future.exception()) and not self._stop.is_set():
            delay = min(self._retry_delay * (2 ** waited), self._max_backoff)
            waited += 1
            DEPENDENCY_WAITS.labels(self.queue.name).inc()
            log.warning("a dependency is unavailable; holding the message and trying again",
                        extra={"queue": self.queue.name, "message_id": message.message_id, "attempt": waited,
                               "retry_in_s": round(delay, 2), "error": _describe(future.exception())})
            connection.sleep(delay)  # heartbeats go on meanwhile
            future = self._run_handler(connection, message)
        outcome = self._settle(channel, method, message, future)
        MESSAGES_CONSUMED.labels(self.queue.name, outcome).inc()
        MESSAGE_HANDLING.labels(self.queue.name).observe(time.perf_counter() - started)

    def _run_handler(self, connection: BlockingConnection, message: InboundMessage) -> Future[str]:
        future = self._worker.submit(self._handle, message)
        while not future.done():
            connection.sleep(0.005)  # keeps heartbeats and the socket serviced meanwhile
        return future

    def _handle(self, message: InboundMessage) -> str:
        if not message.message_id:
            raise PoisonMessage("message has no message_id; it cannot be de-duplicated")
        with continued_trace(message.headers), _tracer.start_as_current_span(
            f"{self.queue.name} process", kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "rabbitmq", "messaging.destination.name": self.queue.name,
                        "messaging.message.id": message.message_id},
        ), self._uow_factory() as uow:
            if not uow.claim_message(self.name, message.message_id):
                return "duplicate"
            self._handler(message, uow)
            uow.commit()
            return "ack"

    def _settle(self, channel: BlockingChannel, method: Any, message: InboundMessage, future: Future[str]) -> str:
        error = future.exception()
        if error is None:
            channel.basic_ack(method.delivery_tag)
            return future.result()
        if isinstance(error, PoisonMessage | ContractViolation):
            self._dead_letter(channel, method, message, str(error))
            return "dead_letter"
        attempts = int(message.headers.get("x-delivery-count", 0) or 0)
        log.warning(
            "handler failed; message will be retried",
            extra={"queue": self.queue.name, "message_id": message.message_id, "attempt": attempts + 1,
                   "error": f"{type(error).__name__}: {str(error)[:300]}"},
        )
        # Back off a little before handing it back so a broken dependency is not hammered.
        channel.connection.sleep(min(self._retry_delay * (2**attempts), 10.0))
        channel.basic_reject(method.delivery_tag, requeue=True)
        return "retry"

    def _dead_letter(self, channel: BlockingChannel, method: Any, message: InboundMessage, reason: str) -> None:
        log.error(
            "poison message dead-lettered",
            extra={"queue": self.queue.name, "message_id": message.message_id, "reason": reason[:500]},
        )
        headers = dict(message.headers)
        headers.update({
            "x-error": reason[:1000],
            "x-original-exchange": message.exchange,
            "x-original-routing-key": message.routing_key,
            "x-consumer": self.name,
        })
        properties = pika.BasicProperties(
            message_id=message.message_id or None, type=message.type or None,
            content_type="application/octet-stream", delivery_mode=pika.DeliveryMode.Persistent,
            headers=headers,
        )
        try:
            channel.basic_publish(DLX, self.queue.name, message.body, properties, mandatory=True)
        except pika.exceptions.UnroutableError:
            # No DLQ bound (it always is when the topology was declared): let the broker dead-letter.
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        channel.basic_ack(method.delivery_tag)
