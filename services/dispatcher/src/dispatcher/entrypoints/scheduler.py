"""``dispatcher-scheduler``: starts 予約配信 when they fall due (every few seconds), and queues again the
pending jobs of a send that made no progress for two minutes (the safety net under the broker: a job
message dead-lettered after too many redeliveries in a crash storm is not a lost job).

Several replicas may run: a due delivery is started under its row lock, and a second start of the same
run finds it started (StartDelivery is idempotent per run). A due delivery that cannot start stays 予約済み
with the reason shown beside it (HoldDueDelivery): outside the sending hours (and not 防災) it is due again
at their next opening; for any other reason (no recipients, a missing second confirmation) in 15 minutes."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from functools import partial

from cityline_common.db import check_schema
from cityline_common.tracing import setup_tracing
from cityline_common.web import add_http_port_option, bootstrap_from_environment, serve_worker_endpoints

from dispatcher.bootstrap import DispatcherService, bootstrap
from dispatcher.config import Settings
from dispatcher.domain import commands as c
from dispatcher.domain.lifecycle import DeliveryError
from dispatcher.manifest import MANIFEST

log = logging.getLogger(__name__)
PROCESS = "dispatcher-scheduler"


def run_due(service: DispatcherService, limit: int = 20) -> int:
    """Start every delivery due now; how many started."""
    now = service.ports.clock()
    due = service.bus.query(lambda uow: uow.deliveries.due(now, limit))
    started = 0
    for delivery_id in due:
        try:
            service.bus.handle(c.StartDelivery(delivery_id, None))
            started += 1
        except DeliveryError as exc:
            log.warning("a due delivery did not start", extra={"delivery": str(delivery_id), "code": exc.code,
                                                               "reason": str(exc)})
            service.bus.handle(c.HoldDueDelivery(delivery_id, str(exc), exc.code or ""))
    return started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Start dispatcher's scheduled deliveries when due.")
    add_http_port_option(parser)
    args = parser.parse_args(argv)
    service = bootstrap_from_environment(PROCESS, Settings, partial(bootstrap, pool_size=2))
    setup_tracing(PROCESS)
    stop = threading.Event()
    serve_worker_endpoints(PROCESS, {"database": partial(check_schema, service.engine, MANIFEST.schema)},
                           args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        try:
            run_due(service)
            requeued = service.bus.handle(c.RequeueStalledJobs())
            if requeued:
                log.warning("stalled send jobs queued again", extra={"jobs": requeued})
        except Exception:
            log.exception("scheduler round failed")
        stop.wait(service.settings.scheduler_interval_seconds)



