"""Wires ingress-webhook: one confirming publisher and one database pool per worker process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from cityline_common.amqp import ConfirmingPublisher, OutboundMessage, PublishError
from cityline_common.crypto import FieldCipher
from cityline_common.db import make_engine
from cityline_common.messagebus import MessageBus
from sqlalchemy import Engine

from ingress_webhook.config import Settings
from ingress_webhook.service_layer.handlers import Ingress, handlers
from ingress_webhook.service_layer.unit_of_work import AbstractIngressUnitOfWork, SqlIngressUnitOfWork


@dataclass
class IngressService:
    settings: Settings
    publisher: ConfirmingPublisher
    engine: Engine
    bus: MessageBus[AbstractIngressUnitOfWork]


def bootstrap(
    settings: Settings,
    publisher: ConfirmingPublisher | None = None,
    uow_factory: Callable[[], AbstractIngressUnitOfWork] | None = None,
) -> IngressService:
    if publisher is None:
        # A short reconnect backoff: while the broker is away, webhooks go to the spool.
        publisher = ConfirmingPublisher(settings.amqp_url, name="ingress-webhook",
                                        heartbeat=settings.amqp_heartbeat_seconds, max_backoff=5.0)
        publisher.start(wait=5.0)
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=0,
        pre_ping=False,  # a stale connection fails one request over to the no-database path, then is replaced
        # The de-duplication record may lose its last few ms in a database crash: the cost is a
        # duplicate that idempotent consumers absorb, the gain is no fsync wait per webhook. Spooled
        # events are written with a synchronous commit (see handlers).
        connect_args={"connect_timeout": 2, "options": "-c synchronous_commit=off -c statement_timeout=1500"},
    )

    def publish_all(messages: Sequence[OutboundMessage]) -> list[PublishError | None]:
        return publisher.publish_all(messages, timeout=settings.publish_timeout_seconds)

    ingress = Ingress(
        channel_secret=settings.line_channel_secret.get_secret_value().encode(),
        publish_all=publish_all,
        cipher=FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value()),
        spool=settings.webhook_spool == "postgres",
    )
    bus = MessageBus(uow_factory or partial(SqlIngressUnitOfWork, engine), handlers(ingress))
    return IngressService(settings=settings, publisher=publisher, engine=engine, bus=bus)
