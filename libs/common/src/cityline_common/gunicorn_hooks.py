"""Gunicorn server hooks every service's gunicorn config imports.

* ``post_fork`` sets up tracing inside each worker (the export thread must not cross a fork).
* ``child_exit`` tells the Prometheus multiprocess collector a worker is gone.
"""

from __future__ import annotations

import os
from typing import Any

from cityline_common.tracing import setup_tracing
from cityline_common.web import bind_host


def post_fork(server: Any, worker: Any) -> None:
    setup_tracing(server.proc_name or "cityline")


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def bind_from_env(port_var: str, default_port: int) -> str:
    return f"{bind_host()}:{os.environ.get(port_var, str(default_port))}"
