"""Readiness checks every service uses: its schema is migrated and the broker answers."""

from __future__ import annotations

import threading
import time

import pika
from sqlalchemy import Engine

from cityline_common.db import check_schema
from cityline_common.web import ReadinessCheck


class BrokerCheck:
    """Opens a short AMQP connection; remembers a success for a few seconds so probes stay cheap."""

    def __init__(self, url: str, cache_seconds: float = 5.0) -> None:
        self._params = pika.URLParameters(url)
        self._params.connection_attempts = 1
        self._params.socket_timeout = 2
        self._params.blocked_connection_timeout = 2
        self._cache_seconds = cache_seconds
        self._ok_until = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if time.monotonic() < self._ok_until:
                return
            connection = pika.BlockingConnection(self._params)
            connection.close()
            self._ok_until = time.monotonic() + self._cache_seconds


def standard_readiness(engine: Engine, schema: str, amqp_url: str) -> dict[str, ReadinessCheck]:
    return {"database": lambda: check_schema(engine, schema), "broker": BrokerCheck(amqp_url)}
