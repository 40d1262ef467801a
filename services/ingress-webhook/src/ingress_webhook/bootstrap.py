"""Wires ingress-webhook: one confirming publisher, one database pool and one group-commit batcher
per worker process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from cityline_common.amqp import ConfirmingPublisher
from cityline_common.crypto import FieldCipher
from cityline_common.db import make_engine
from cityline_common.messagebus import MessageBus
from sqlalchemy import Engine

from ingress_webhook.adapters.batcher import GroupCommit
from ingress_webhook.config import Settings
from ingress_webhook.domain.commands import Result
from ingress_webhook.service_layer.handlers import Ingress, Taker, VerifiedRequest, handlers
from ingress_webhook.service_layer.unit_of_work import AbstractIngressUnitOfWork, SqlIngressUnitOfWork


@dataclass
class IngressService:
    settings: Settings
    publisher: ConfirmingPublisher
    engine: Engine
    bus: MessageBus[AbstractIngressUnitOfWork]
    batcher: GroupCommit[VerifiedRequest, Result]

    def close(self) -> None:
        self.batcher.close()
        self.publisher.close()
        self.engine.dispose()


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
        pre_ping=False,  # a stale connection fails one batch over to the no-database path, then is replaced
        # The de-duplication record may lose its last few ms in a database crash: the cost is a
        # duplicate that idempotent consumers absorb, the gain is no fsync wait per webhook. Spooled
        # events are written with a synchronous commit (see handlers).
        connect_args={"connect_timeout": 2, "options": "-c synchronous_commit=off -c statement_timeout=1500"},
    )
    uow_factory = uow_factory or partial(SqlIngressUnitOfWork, engine)
    taker = Taker(
        uow_factory=uow_factory,
        publish_all=publisher.publish_all,
        spool=settings.webhook_spool == "postgres",
        publish_timeout=settings.publish_timeout_seconds,
    )
    # Concurrent requests of this process share one transaction and one confirm wait (group commit).
    batcher: GroupCommit[VerifiedRequest, Result] = GroupCommit(
        taker.take_batch, weight=lambda request: len(request.events), max_weight=settings.webhook_batch_max_events,
        max_wait=settings.webhook_batch_wait_ms / 1000, concurrency=settings.webhook_batch_concurrency,
        name="ingress-group-commit",
    )
    ingress = Ingress(
        channel_secret=settings.line_channel_secret.get_secret_value().encode(),
        cipher=FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value()),
        take=batcher.take,
        dedupe_window=timedelta(hours=settings.dedupe_window_hours),
    )
    bus = MessageBus(uow_factory, handlers(ingress))
    return IngressService(settings=settings, publisher=publisher, engine=engine, bus=bus, batcher=batcher)
