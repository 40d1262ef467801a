"""RabbitMQ vhosts of a test's own: a stack of running processes (the browser console, the delivery
end-to-end stack, the crash drill) consumes its queues undisturbed by another stack's consumers of the
same queue names — the send-jobs queue has a single active consumer, and another stack's sender would
take its jobs."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy.engine import make_url

AMQP_BASE = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def own_vhost(prefix: str = "cityline_test") -> Iterator[str]:
    """The AMQP URL of a new vhost, deleted afterwards (needs rabbitmqctl, as on the dev machines and CI);
    the default vhost where rabbitmqctl is missing."""
    if shutil.which("rabbitmqctl") is None:
        yield f"{AMQP_BASE}/%2F"
        return
    vhost = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    user = make_url(AMQP_BASE.replace("amqp://", "postgresql://")).username or "guest"
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    try:
        yield f"{AMQP_BASE}/{quote(vhost, safe='')}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)
