"""The one gunicorn configuration of every web process, read from the process's manifest entry.

``cityline-serve NAME`` starts gunicorn with ``-c python:cityline_common.gunicorn_conf`` and
``CITYLINE_PROCESS=NAME``. The port comes from ``$<NAME>_PORT`` (default: the manifest's port).

* ``post_fork`` sets up tracing inside each worker (the export thread must not cross a fork).
* ``child_exit`` tells the Prometheus multiprocess collector a worker is gone.
"""

from __future__ import annotations

import os
from typing import Any

from cityline_common.manifest import process
from cityline_common.tracing import setup_tracing
from cityline_common.web import bind_host

_process = process(os.environ.get("CITYLINE_PROCESS", ""))

bind = f"{bind_host()}:{os.environ.get(_process.port_env, str(_process.port))}"
workers = int(os.environ.get("GUNICORN_WORKERS", str(_process.workers)))
# Threads let one worker wait on many slow calls (broker confirms, internal APIs) at once.
worker_class = "gthread"
threads = _process.threads
proc_name = _process.name
accesslog = None  # the app writes one JSON access line per request (cityline_common.web)
# Whether a request came over TLS is the app's call (werkzeug's ProxyFix, trusting X-Forwarded-Proto
# only from TRUSTED_PROXIES proxies): gunicorn must not believe the header from any loopback peer.
secure_scheme_headers: dict[str, str] = {}
graceful_timeout = 20


def post_fork(server: Any, worker: Any) -> None:
    setup_tracing(server.proc_name or "cityline")


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
