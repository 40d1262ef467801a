"""The whole RabbitMQ topology of the platform, declared in one place.

Exchanges
  line.events       topic   webhook events from ingress-webhook, routing key ``line.event.<type>``
  city.events       topic   domain events from the services' outboxes, ``<service>.<aggregate>.<event>``
  city.commands     topic   work items between services, ``<service>.<command>``
  city.integration  topic   events published by other city systems (disaster alerts, CMS …)
  city.dlx          direct  dead letters; each queue's DLQ is bound with the queue's own name

Every topic exchange has an alternate exchange ``<name>.unrouted`` feeding a bounded queue of the
same name, so a message nobody subscribes to yet (a new LINE event type, say) is kept for
inspection instead of being dropped or refused.

Every work queue is a quorum queue (replicated, durable) with a delivery limit and at-least-once
dead-lettering to ``city.dlx`` → ``<queue>.dlq``. The exchanges are the platform's and live here;
queues belong to the services that consume them and are declared in their manifests
(:mod:`cityline_common.manifest`), bound only to the contracts each consumer handles. A queue exists
only because a consumer declares it. ``cityline-topology --definitions`` prints the whole topology as
a RabbitMQ definitions document for the Helm chart's ``loadDefinition``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

DLX = "city.dlx"
LINE_EVENTS = "line.events"
CITY_EVENTS = "city.events"
CITY_COMMANDS = "city.commands"
CITY_INTEGRATION = "city.integration"

DEFAULT_DELIVERY_LIMIT = 10
UNROUTED_MAX_LENGTH = 100_000
DLQ_MAX_LENGTH = 1_000_000


@dataclass(frozen=True)
class Exchange:
    name: str
    type: str = "topic"
    keeps_unrouted: bool = True

    @property
    def unrouted(self) -> str:
        return f"{self.name}.unrouted"


@dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str


@dataclass(frozen=True)
class Queue:
    name: str
    bindings: tuple[Binding, ...]
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    single_active_consumer: bool = False
    extra_arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DLX,
            "x-dead-letter-routing-key": self.name,
            # At-least-once dead-lettering needs reject-publish overflow (RabbitMQ >= 3.10).
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        if self.single_active_consumer:
            args["x-single-active-consumer"] = True
        args.update(self.extra_arguments)
        return args


EXCHANGES: tuple[Exchange, ...] = (
    Exchange(LINE_EVENTS),
    Exchange(CITY_EVENTS),
    Exchange(CITY_COMMANDS),
    Exchange(CITY_INTEGRATION),
    Exchange(DLX, type="direct", keeps_unrouted=False),
)

def registered_queues() -> tuple[Queue, ...]:
    """Every queue some installed service's consumer declares (see :mod:`cityline_common.manifest`)."""
    from cityline_common.manifest import all_queues

    return all_queues()


def inspection_queues(queues: tuple[Queue, ...] | None = None) -> tuple[str, ...]:
    """The queues that only keep messages for people to look at (``cityline-dlq``): every exchange's
    ``<name>.unrouted`` and every work queue's ``<name>.dlq`` (default: every registered service's).
    Both are bounded with drop-head (:func:`_bounded`): when one is full its oldest message goes."""
    queues = registered_queues() if queues is None else queues
    return (*(each.unrouted for each in EXCHANGES if each.keeps_unrouted), *(each.dlq for each in queues))


def is_inspection_queue(name: str) -> bool:
    """Whether ``name`` is a dead-letter or unrouted queue by the topology's naming."""
    return name.endswith((".dlq", ".unrouted"))


def declare(channel: BlockingChannel, queues: tuple[Queue, ...] | None = None) -> None:
    """Idempotently declare exchanges, the unrouted and dead-letter queues, and ``queues``
    (default: every registered service's)."""
    queues = registered_queues() if queues is None else queues
    for exchange in EXCHANGES:
        arguments = {"alternate-exchange": exchange.unrouted} if exchange.keeps_unrouted else None
        if exchange.keeps_unrouted:
            channel.exchange_declare(exchange.unrouted, "fanout", durable=True)
            channel.queue_declare(exchange.unrouted, durable=True, arguments=_bounded(UNROUTED_MAX_LENGTH))
            channel.queue_bind(exchange.unrouted, exchange.unrouted)
        channel.exchange_declare(exchange.name, exchange.type, durable=True, arguments=arguments)
    for each in queues:
        channel.queue_declare(each.dlq, durable=True, arguments=_bounded(DLQ_MAX_LENGTH))
        channel.queue_bind(each.dlq, DLX, routing_key=each.name)
        channel.queue_declare(each.name, durable=True, arguments=each.arguments())
        for binding in each.bindings:
            channel.queue_bind(each.name, binding.exchange, routing_key=binding.routing_key)


def declare_with_url(url: str, queues: tuple[Queue, ...] | None = None) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        declare(connection.channel(), queues)
    finally:
        connection.close()


def _bounded(max_length: int) -> dict[str, Any]:
    # Inspection queues must never fill the broker: oldest messages go first when full.
    return {"x-queue-type": "quorum", "x-max-length": max_length, "x-overflow": "drop-head"}


def definitions(vhost: str = "/") -> dict[str, Any]:
    """The topology as a RabbitMQ definitions document (for ``load_definitions``)."""
    exchanges: list[dict[str, Any]] = []
    queues: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []

    def add_queue(name: str, arguments: dict[str, Any]) -> None:
        queues.append({"name": name, "vhost": vhost, "durable": True, "auto_delete": False,
                       "arguments": arguments})

    def add_binding(source: str, destination: str, routing_key: str) -> None:
        bindings.append({"source": source, "vhost": vhost, "destination": destination,
                         "destination_type": "queue", "routing_key": routing_key, "arguments": {}})

    for exchange in EXCHANGES:
        arguments: dict[str, Any] = {}
        if exchange.keeps_unrouted:
            arguments["alternate-exchange"] = exchange.unrouted
            exchanges.append({"name": exchange.unrouted, "vhost": vhost, "type": "fanout", "durable": True,
                              "auto_delete": False, "internal": False, "arguments": {}})
            add_queue(exchange.unrouted, _bounded(UNROUTED_MAX_LENGTH))
            add_binding(exchange.unrouted, exchange.unrouted, "")
        exchanges.append({"name": exchange.name, "vhost": vhost, "type": exchange.type, "durable": True,
                          "auto_delete": False, "internal": False, "arguments": arguments})
    for each in registered_queues():
        add_queue(each.dlq, _bounded(DLQ_MAX_LENGTH))
        add_binding(DLX, each.dlq, each.name)
        add_queue(each.name, each.arguments())
        for binding in each.bindings:
            add_binding(binding.exchange, each.name, binding.routing_key)
    return {"exchanges": exchanges, "queues": queues, "bindings": bindings}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Declare or print the platform's RabbitMQ topology.")
    parser.add_argument("--definitions", action="store_true", help="print a RabbitMQ definitions document")
    parser.add_argument("--vhost", default="/")
    args = parser.parse_args(argv)
    if args.definitions:
        print(json.dumps(definitions(args.vhost), indent=2))
        return
    from cityline_common.settings import CommonSettings, load_settings_or_exit

    declare_with_url(load_settings_or_exit(CommonSettings).amqp_url)
    print("topology declared")
