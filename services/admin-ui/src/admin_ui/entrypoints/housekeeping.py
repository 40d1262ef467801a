"""``admin-ui-housekeeping [--once]``: end staff sessions past their timeouts and forget sign-in
throttles that no longer count.

Sessions past their idle (30 min) or absolute (12 h) timeout are refused anyway the moment their
cookie comes back; this removes the rows nobody comes back for, recording each ended session in the
操作ログ as ``session.end`` (reason ``timeout``), and deletes throttle rows that lock nothing and
whose last failure is older than an hour (they would count from zero again). Bounded transactions
of 100 rows; several sweepers skip each other's rows. A loop locally (Procfile), one pass per run of
the chart's CronJob (``--once``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from cityline_common.logging import configure_logging
from cityline_common.messagebus import MessageBus
from cityline_common.settings import load_settings_or_exit

from admin_ui.bootstrap import bootstrap_housekeeping
from admin_ui.config import HousekeepingSettings
from admin_ui.domain.commands import SweepExpired
from admin_ui.domain.results import SweepResult
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork

log = logging.getLogger(__name__)
PROCESS = "admin-housekeeping"
BATCH = 100
MAX_PASSES = 1000  # 100,000 rows a run at most: a run always ends


def sweep(bus: MessageBus[AbstractAdminUnitOfWork], batch: int = BATCH) -> SweepResult:
    """Passes of ``batch`` rows until one is not full; the totals."""
    ended = forgotten = 0
    for _ in range(MAX_PASSES):
        result = bus.handle(SweepExpired(limit=batch))
        ended += result.sessions_ended
        forgotten += result.throttles_forgotten
        if result.sessions_ended < batch and result.throttles_forgotten < batch:
            break
    return SweepResult(ended, forgotten)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="one sweep, then exit (for a CronJob)")
    parser.add_argument("--interval", type=float, default=300.0, help="seconds between sweeps")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit(HousekeepingSettings)
    configure_logging(PROCESS, settings)
    bus = bootstrap_housekeeping(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while True:
        result = sweep(bus)
        log.info("staff sessions and sign-in throttles swept",
                 extra={"sessions_ended": result.sessions_ended, "throttles_forgotten": result.throttles_forgotten})
        if args.once or stop.wait(args.interval):
            return
