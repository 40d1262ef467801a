"""The outbox relay: publishes committed outbox rows with publisher confirms, then marks them sent.

Per batch, in one transaction: claim pending rows with ``FOR UPDATE SKIP LOCKED`` (so several relays
can run side by side without taking the same row), publish them all, wait for the broker's
confirms, then set ``published_at`` on the confirmed ones and back off the failed ones. If the relay
dies between the broker's confirm and the commit, the rows stay pending and are published again —
with the same ``message_id`` — and idempotent consumers ignore the repeat. Nothing is lost.

Housekeeping (every ~30 s, each step on its own so one failing does not stop the others): the
backlog gauges, the purge of published rows, the queue-depth gauges (:mod:`cityline_common.amqp.depth`,
one relay of the process does it) and, every ten minutes, the purge of old ``processed_messages``
(:meth:`OutboxRelay.purge_processed`).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, Row, func, select, tuple_, update

from cityline_common.amqp.messages import OutboundMessage
from cityline_common.amqp.publisher import ConfirmingPublisher, await_confirms
from cityline_common.db import PlumbingTables
from cityline_common.metrics import OUTBOX_OLDEST_PENDING, OUTBOX_PENDING, OUTBOX_PUBLISHED
from cityline_common.tracing import continued_trace, tracer

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
HOUSEKEEPING_INTERVAL = 30.0  # seconds: backlog and queue-depth gauges, purge of published rows
PROCESSED_PURGE_INTERVAL = 600.0  # seconds: the purge of processed_messages scans the table
# How long a consumer remembers a message id it handled (processed_messages). An id only comes back
# when the relay re-publishes after a crash between confirm and commit (seconds later), when the
# broker redelivers a delivery that was never acked (at the latest when the consumer's connection
# dies, so within its lifetime), or when an SRE replays a dead letter with cityline-dlq: the
# consumer it died in never committed it (no row to forget), and the other consumers of its routing
# key remember it for this long. A week covers all three with a wide margin.
PROCESSED_RETENTION = timedelta(days=7)
PROCESSED_PURGE_BATCH = 10_000  # rows per DELETE: short transactions, short row locks


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        plumbing: PlumbingTables,
        publisher: ConfirmingPublisher,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.2,
        confirm_timeout: float = 10.0,
        after_publish: Callable[[Sequence[Row[Any]]], None] | None = None,
        processed_retention: timedelta = PROCESSED_RETENTION,
        queue_depths: Callable[[], object] | None = None,
    ) -> None:
        self._engine = engine
        self._outbox = plumbing.outbox
        self._processed = plumbing.processed_messages
        self._processed_retention = processed_retention
        # Observes the broker's queues (the process's first relay gets it; the others pass None).
        self._queue_depths = queue_depths
        self._schema = str(plumbing.outbox.schema)
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._confirm_timeout = confirm_timeout
        # Observation point between "confirmed" and "marked sent" (crash drills hook in here).
        self._after_publish = after_publish
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> int:
        """Publish one batch; return how many rows were published."""
        outbox = self._outbox
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(outbox)
                .where(outbox.c.published_at.is_(None), outbox.c.available_at <= func.now())
                .order_by(outbox.c.created_at)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            messages = [self._to_message(row) for row in rows]
            with tracer(__name__).start_as_current_span("outbox publish batch") as span:
                span.set_attribute("outbox.batch_size", len(rows))
                futures = []
                for row, message in zip(rows, messages, strict=True):
                    with continued_trace(row.headers):  # the publish continues the writer's trace
                        futures.append(self._publisher.publish(message))
                # One deadline for the batch: withheld confirms hold the row locks confirm_timeout at most.
                errors = await_confirms(futures, self._confirm_timeout)
            if self._after_publish is not None:
                self._after_publish(rows)
            sent = [row.id for row, error in zip(rows, errors, strict=True) if error is None]
            if sent:
                connection.execute(update(outbox).where(outbox.c.id.in_(sent)).values(published_at=func.now()))
            now = datetime.now(UTC)
            for row, error in zip(rows, errors, strict=True):
                if error is None:
                    continue
                delay = min(timedelta(seconds=2 ** min(row.attempts, 10)), MAX_BACKOFF)
                connection.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(attempts=outbox.c.attempts + 1, last_error=f"{type(error).__name__}: {error}"[:1000],
                            available_at=now + delay)
                )
                log.warning("outbox publish failed; will retry",
                            extra={"schema": self._schema, "message_id": row.message_id, "attempt": row.attempts + 1,
                                   "error": str(error)[:200]})
        OUTBOX_PUBLISHED.labels(self._schema, "confirmed").inc(len(sent))
        OUTBOX_PUBLISHED.labels(self._schema, "failed").inc(len(rows) - len(sent))
        return len(sent)

    def observe_backlog(self) -> tuple[int, datetime | None]:
        outbox = self._outbox
        with self._engine.connect() as connection:
            count, oldest = connection.execute(
                select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
            ).one()
        OUTBOX_PENDING.labels(self._schema).set(count)
        OUTBOX_OLDEST_PENDING.labels(self._schema).set(oldest.timestamp() if oldest else 0)
        return count, oldest

    def purge_published(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Housekeeping: published rows are kept a while for audit, then deleted."""
        outbox = self._outbox
        with self._engine.begin() as connection:
            result = connection.execute(
                outbox.delete().where(outbox.c.published_at < datetime.now(UTC) - older_than)
            )
        return result.rowcount or 0

    def purge_processed(self, older_than: timedelta | None = None, *, batch_size: int = PROCESSED_PURGE_BATCH) -> int:
        """Housekeeping: forget the message ids consumers handled longer ago than the retention
        (:data:`PROCESSED_RETENTION` unless given), ``batch_size`` rows per transaction so no
        statement holds many locks for long; rows another relay is deleting are skipped."""
        processed = self._processed
        cutoff = datetime.now(UTC) - (self._processed_retention if older_than is None else older_than)
        doomed = (
            select(processed.c.consumer, processed.c.message_id)
            .where(processed.c.processed_at < cutoff)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        total = 0
        while not self._stop.is_set():
            with self._engine.begin() as connection:
                result = connection.execute(
                    processed.delete().where(tuple_(processed.c.consumer, processed.c.message_id).in_(doomed))
                )
            deleted = result.rowcount or 0
            total += deleted
            if deleted < batch_size:
                break
        if total:
            log.info("forgot old processed message ids", extra={"schema": self._schema, "rows": total})
        return total

    def housekeeping(self, *, purge_processed: bool = True) -> None:
        """One round of housekeeping; each step on its own, a failing step is logged and retried
        at the next round."""
        steps: list[tuple[str, Callable[[], object]]] = [
            ("observe backlog", self.observe_backlog),
            ("purge published rows", self.purge_published),
        ]
        if purge_processed:
            steps.append(("purge processed message ids", self.purge_processed))
        if self._queue_depths is not None:
            steps.append(("observe queue depths", self._queue_depths))
        for name, step in steps:
            try:
                step()
            except Exception as exc:
                log.warning("outbox relay housekeeping step failed",
                            extra={"schema": self._schema, "step": name, "error": f"{type(exc).__name__}: {exc}"[:300]})

    def run_forever(self) -> None:
        last_housekeeping: float | None = None
        last_processed_purge: float | None = None
        while not self._stop.is_set():
            try:
                published = self.run_once()
            except Exception:
                log.exception("outbox relay iteration failed", extra={"schema": self._schema})
                published = 0
                self._stop.wait(1.0)
            now = time.monotonic()
            if last_housekeeping is None or now - last_housekeeping > HOUSEKEEPING_INTERVAL:
                purge = last_processed_purge is None or now - last_processed_purge > PROCESSED_PURGE_INTERVAL
                self.housekeeping(purge_processed=purge)
                last_housekeeping = now
                if purge:
                    last_processed_purge = now
            if published < self._batch_size:
                self._stop.wait(self._poll_interval)

    def _to_message(self, row: Row[Any]) -> OutboundMessage:
        return OutboundMessage(
            exchange=row.exchange,
            routing_key=row.routing_key,
            body=json.dumps(row.payload, ensure_ascii=False).encode(),
            message_id=row.message_id,
            type=row.type,
            headers={**(row.headers or {}), "x-outbox-created-at": row.created_at.isoformat()},
            timestamp=int(row.created_at.timestamp()),
        )


def main(argv: list[str] | None = None) -> None:
    """``cityline-outbox-relay SERVICE [SERVICE …]``: relay the outboxes of installed services."""
    from cityline_common.logging import configure_logging
    from cityline_common.manifest import registered_services
    from cityline_common.settings import CommonSettings, load_settings_or_exit
    from cityline_common.tracing import setup_tracing
    from cityline_common.web import add_http_port_option, serve_worker_endpoints

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("services", nargs="*", help="service names (default: every installed service)")
    parser.add_argument("--processed-retention-days", type=_retention_days, default=PROCESSED_RETENTION.days,
                        help="how long consumers remember the message ids they handled "
                             f"(default {PROCESSED_RETENTION.days}; at least 1)")
    add_http_port_option(parser)
    args = parser.parse_args(argv)
    settings = load_settings_or_exit(CommonSettings)
    configure_logging("outbox-relay", settings)
    setup_tracing("outbox-relay")
    services = registered_services()
    chosen = args.services or sorted(services)
    unknown = [name for name in chosen if name not in services]
    if unknown:
        raise SystemExit(f"unknown service(s): {', '.join(unknown)}; installed: {', '.join(sorted(services))}")

    from cityline_common.db import check_schema, make_engine

    engine = make_engine(settings.database_url, pool_size=len(chosen) + 1)
    publisher = ConfirmingPublisher(settings.amqp_url, name="outbox-relay")
    publisher.start()
    from cityline_common.amqp.depth import observe_queue_depths

    retention = timedelta(days=args.processed_retention_days)
    relays = [
        OutboxRelay(engine, services[name].plumbing, publisher, processed_retention=retention,
                    # The broker's queues are the same for every schema: one relay looks at them.
                    queue_depths=partial(observe_queue_depths, settings.amqp_url) if index == 0 else None)
        for index, name in enumerate(chosen)
    ]
    threads = [threading.Thread(target=relay.run_forever, name=f"relay-{name}", daemon=True)
               for relay, name in zip(relays, chosen, strict=True)]

    def _stop(*_: object) -> None:
        for relay in relays:
            relay.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for thread in threads:
        thread.start()

    def publisher_connected() -> None:
        if not publisher.ready:
            raise RuntimeError("the relay's publisher is not connected to the broker")

    checks = {f"database.{name}": partial(check_schema, engine, services[name].schema) for name in chosen}
    serve_worker_endpoints("outbox-relay", {**checks, "broker": publisher_connected}, args.http_port)
    log.info("outbox relay running", extra={"services": chosen})
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
    publisher.close()


def _retention_days(value: str) -> int:
    days = int(value)
    if days < 1:
        raise argparse.ArgumentTypeError("must be at least 1 day: a message can be redelivered that late")
    return days
