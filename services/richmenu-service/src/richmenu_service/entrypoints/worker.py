"""``richmenu-worker``: carries out mass changes (一括切り替え: 災害時モード, rules edited, periods starting and
ending on time) and publications LINE's create limit held back, and reconciles LINE with what we published every
``RECONCILE_INTERVAL_SECONDS`` (``richmenu-service reconcile`` does it at once). Several replicas may run: a mass
change holds an advisory lock, so one runs at a time and the others wait as standbys."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from functools import partial

from cityline_common.db import check_schema
from cityline_common.tracing import setup_tracing
from cityline_common.web import add_http_port_option, bootstrap_from_environment, serve_worker_endpoints

from richmenu_service.bootstrap import RichmenuService, bootstrap
from richmenu_service.config import Settings
from richmenu_service.domain import commands as c
from richmenu_service.manifest import MANIFEST

log = logging.getLogger(__name__)
PROCESS = "richmenu-worker"


def run_once(service: RichmenuService) -> bool:
    """One round; True when it did something (the loop goes again at once)."""
    published = service.bus.handle(c.RetryPublications())
    change = service.bus.handle(c.ApplyRules())
    if change is not None:
        log.info("mass change done", extra={"change": str(change)})
    return bool(published or change)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Carry out richmenu-service's mass changes and queued publications.")
    add_http_port_option(parser)
    args = parser.parse_args(argv)
    service = bootstrap_from_environment(PROCESS, Settings, partial(bootstrap, pool_size=2))
    setup_tracing(PROCESS)
    stop = threading.Event()
    serve_worker_endpoints(PROCESS, {"database": partial(check_schema, service.engine, MANIFEST.schema)},
                           args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    reconciled = time.monotonic()
    while not stop.is_set():
        busy = False
        try:
            if time.monotonic() - reconciled >= service.settings.reconcile_interval_seconds:
                reconciled = time.monotonic()
                log.info("reconciled with LINE", extra={"report": service.bus.handle(c.Reconcile())})
            busy = run_once(service)
        except Exception:
            log.exception("richmenu-worker round failed")
            stop.wait(5.0)
        if not busy:
            stop.wait(service.settings.worker_interval_seconds)
