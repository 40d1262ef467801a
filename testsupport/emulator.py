"""Run the LINE emulator in-process on a loopback port, and a webhook receiver beside it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cityline_common.web import serve_in_background
from werkzeug.wrappers import Request, Response

from testsupport import TEST_KEYS


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a WSGI app in this process on a free loopback port, as the workers serve their probes."""
    server = serve_in_background(app, 0)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@dataclass
class WebhookReceiver:
    """Collects webhook requests; answers ``status`` (a list is used in turn, then its last value)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.received.append((request.get_data(), dict(request.headers)))
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Response("ok", status=status)(environ, start_response)


@contextmanager
def running_emulator(webhook_url: str | None = None, **options: Any) -> Iterator[tuple[str, Any]]:
    from line_emulator.app import create_app
    from line_emulator.cli import Options, build_emulator

    emulator = build_emulator(Options(channel_secret=TEST_KEYS["LINE_CHANNEL_SECRET"],
                                      access_token=TEST_KEYS["LINE_CHANNEL_ACCESS_TOKEN"],
                                      webhook_url=webhook_url, **options))
    with serve(create_app(emulator)) as url:
        yield url, emulator
