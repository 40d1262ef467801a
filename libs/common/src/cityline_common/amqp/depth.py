"""How full the platform's queues are, as Prometheus gauges.

The dead-letter (``<queue>.dlq``) and unrouted (``<exchange>.unrouted``) queues are bounded with
``x-overflow: drop-head``: when one is full, RabbitMQ silently discards its OLDEST message to make
room. Nothing in the platform reads them, so only their depth can tell anyone they are filling up.
The outbox relay's housekeeping calls :func:`observe_queue_depths` every ~30 s and the chart's
PrometheusRule alerts on ``cityline_queue_messages`` long before a bound is reached.

Each observation is one short-lived BlockingConnection and one passive ``queue.declare`` per queue
(it creates nothing; a queue that does not exist is skipped, not an error).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import pika
import pika.exceptions

from cityline_common.amqp.topology import inspection_queues, registered_queues
from cityline_common.metrics import QUEUE_CONSUMERS, QUEUE_MESSAGES

NOT_FOUND = 404


def observed_queues() -> tuple[str, ...]:
    """Every unrouted and dead-letter queue, and the work queues themselves (their consumer count
    shows a consumer that is gone)."""
    queues = registered_queues()
    return (*inspection_queues(queues), *(queue.name for queue in queues))


def observe_queue_depths(
    url: str, queues: Iterable[str] | None = None, *, timeout: float = 5.0
) -> dict[str, tuple[int, int]]:
    """Set ``cityline_queue_messages`` and ``cityline_queue_consumers`` for ``queues`` (default:
    :func:`observed_queues`); return ``{queue: (messages, consumers)}`` for those that exist."""
    names = observed_queues() if queues is None else tuple(queues)
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout
    params.blocked_connection_timeout = timeout
    params.client_properties = {"connection_name": "cityline-queue-depths"}
    found: dict[str, tuple[int, int]] = {}
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        for name in names:
            try:
                declared = channel.queue_declare(name, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != NOT_FOUND:
                    raise
                _forget(name)
                channel = connection.channel()  # a failed passive declare closes the channel
                continue
            messages, consumers = int(declared.method.message_count), int(declared.method.consumer_count)
            QUEUE_MESSAGES.labels(name).set(messages)
            QUEUE_CONSUMERS.labels(name).set(consumers)
            found[name] = (messages, consumers)
    finally:
        if connection.is_open:
            connection.close()
    return found


def _forget(name: str) -> None:
    """A queue that is gone has no depth: drop its series rather than report a stale one."""
    for gauge in (QUEUE_MESSAGES, QUEUE_CONSUMERS):
        with contextlib.suppress(KeyError):
            gauge.remove(name)
