"""``ingress-webhook-housekeeping [--once]``: forget webhook event ids older than the window."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from datetime import timedelta

from cityline_common.db import make_engine
from cityline_common.logging import configure_logging
from cityline_common.settings import load_settings_or_exit

from ingress_webhook.config import Settings
from ingress_webhook.service_layer.unit_of_work import AbstractIngressUnitOfWork, SqlIngressUnitOfWork

log = logging.getLogger(__name__)


def sweep(uow_factory: Callable[[], AbstractIngressUnitOfWork], window: timedelta) -> int:
    """One pass; returns how many ids were forgotten (0 when another process holds the lock)."""
    forgotten = 0
    while True:
        with uow_factory() as uow:
            if not uow.seen.try_lock_housekeeping():
                return forgotten
            removed = uow.seen.forget_older_than(window)
            uow.commit()
        forgotten += removed
        if removed == 0:
            return forgotten


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="one sweep, then exit (for a CronJob)")
    parser.add_argument("--interval", type=float, default=300.0, help="seconds between sweeps")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit(Settings)
    configure_logging("ingress-webhook-housekeeping", settings)
    engine = make_engine(settings.database_url, pool_size=1)
    window = timedelta(hours=settings.dedupe_window_hours)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while True:
        forgotten = sweep(lambda: SqlIngressUnitOfWork(engine), window)
        log.info("webhook de-duplication record swept", extra={"forgotten": forgotten})
        if args.once or stop.wait(args.interval):
            return
