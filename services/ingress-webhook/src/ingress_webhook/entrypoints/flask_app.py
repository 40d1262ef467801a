"""HTTP entrypoint: ``POST /callback`` for LINE, plus health, readiness and metrics."""

from __future__ import annotations

import logging
import socket
import time
from contextlib import suppress
from typing import Any

from cityline_common.db import check_schema
from cityline_common.web import bootstrap_from_environment, create_base_app
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ingress_webhook import metrics
from ingress_webhook.bootstrap import IngressService, bootstrap
from ingress_webhook.config import Settings
from ingress_webhook.domain.commands import AcceptWebhook, Outcome
from ingress_webhook.manifest import MANIFEST

log = logging.getLogger(__name__)

_STATUS = {
    Outcome.ACCEPTED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.SPOOLED: 200,
    Outcome.TOO_OLD: 200,  # refused as replays, but LINE must not retry them
    Outcome.SIGNATURE_MISSING: 400,
    Outcome.SIGNATURE_INVALID: 401,
    Outcome.INVALID: 400,
    Outcome.UNAVAILABLE: 503,
}


def create_app(service: IngressService | None = None) -> Flask:
    service = service or bootstrap_from_environment("ingress-webhook", Settings, bootstrap)

    def broker_ready() -> None:
        if not service.publisher.ready:
            raise RuntimeError("publisher not connected")

    def database_ready() -> None:
        check_schema(service.engine, MANIFEST.schema)

    spooling = service.settings.webhook_spool == "postgres"

    def accepting_webhooks() -> None:
        """Ready while a webhook can be taken durably: the broker confirms it, or (with the spool on)
        the database spools it. A database outage alone only costs de-duplication (consumers are
        idempotent), so it does not take ingress out of service; both down does."""
        try:
            broker_ready()
        except RuntimeError:
            if not spooling:
                raise
            database_ready()

    app = create_base_app(
        "ingress-webhook",
        {"accepting": accepting_webhooks},
        informational_checks={"database": database_ready, "broker": broker_ready},
    )
    # The callback enforces the limit itself while reading (see _read_body); this covers any other route.
    app.config["MAX_CONTENT_LENGTH"] = service.settings.webhook_max_body_bytes

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_: RequestEntityTooLarge) -> tuple[Response, int]:
        metrics.REQUESTS_AT_ENTRYPOINT["too_large"].inc()
        return jsonify(error="Payload Too Large", reason="webhook body over the configured limit"), 413

    limit = service.settings.webhook_max_body_bytes
    body_timeout = service.settings.webhook_body_timeout_seconds

    @app.post(service.settings.webhook_path)
    def callback() -> tuple[Response, int]:
        try:
            body = _read_body(request.environ, request.content_length, limit, body_timeout)
        except BodyTooSlow:
            metrics.REQUESTS_AT_ENTRYPOINT["body_timeout"].inc()
            log.warning("webhook body too slow: connection dropped", extra={"timeout_seconds": body_timeout})
            # The rest of the body is never read: gunicorn closes the connection after this answer.
            return jsonify(error="Request Timeout",
                           reason=f"the body did not arrive within {body_timeout:g} s of the headers"), 408
        except BodyIncomplete:
            return jsonify(error="Bad Request", reason="the body ended before its Content-Length"), 400
        if body is None:
            return too_large(RequestEntityTooLarge())
        result = service.bus.handle(AcceptWebhook(body, tuple(request.headers.getlist("X-Line-Signature"))))
        status = _STATUS[result.outcome]
        if status == 200:
            return Response(_OK_BODY, mimetype="application/json"), 200
        if result.outcome in {Outcome.SIGNATURE_MISSING, Outcome.SIGNATURE_INVALID}:
            # No detail for a caller that cannot sign: nothing to learn from us.
            return jsonify(error="unauthorized" if status == 401 else "bad request"), status
        return jsonify(error=result.outcome.value, reason=result.reason), status

    return app


_OK_BODY = b'{"status":"ok"}'  # what most requests get: built once, not serialised per request


class BodyTooSlow(Exception):
    """The client did not send the whole body before the deadline."""


class BodyIncomplete(Exception):
    """The client closed the connection before sending all the body it announced."""


def _read_body(environ: dict[str, Any], content_length: int | None, limit: int, timeout: float) -> bytes | None:
    """The raw body, or None when it is over ``limit``; read within ``timeout`` seconds.

    A body over the limit with a Content-Length is refused before reading. A chunked body has no
    length: it is read in pieces and stopped at the limit (Werkzeug would silently truncate it).
    """
    if content_length is not None and content_length > limit:
        return None
    stream = environ["wsgi.input"]
    deadline = _BodyDeadline.start(environ, timeout, content_length)
    try:
        if content_length is not None:
            body: bytes = stream.read(content_length)
            if len(body) < content_length:
                raise BodyIncomplete
            return body
        pieces: list[bytes] = []
        size = 0
        while piece := stream.read(65536):
            size += len(piece)
            if size > limit:
                return None
            pieces.append(piece)
        return b"".join(pieces)
    except TimeoutError:
        if deadline is None:
            raise
        deadline.stop_reading()
        raise BodyTooSlow from None
    finally:
        if deadline is not None:
            deadline.end()


class _DeadlineSocket:
    """Stands in for the client's socket while its body is read: every receive waits only as long
    as is left of the deadline, so a client trickling a byte at a time cannot hold a worker thread
    for longer than the deadline (a per-receive timeout alone would not stop that)."""

    def __init__(self, sock: Any, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self.waited = False

    def _bound(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request body deadline passed")
        self._sock.settimeout(remaining)
        self.waited = True

    def recv(self, size: int, *flags: int) -> bytes:
        self._bound()
        data: bytes = self._sock.recv(size, *flags)
        return data

    def recv_into(self, buffer: Any, *args: int) -> int:
        self._bound()
        count: int = self._sock.recv_into(buffer, *args)
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _BodyDeadline:
    """Under gunicorn, reading the body raises TimeoutError once ``timeout`` has passed.

    gunicorn reads the client socket through an "unreader" holding what it has read ahead; while
    the body is read, its socket is swapped for a :class:`_DeadlineSocket`. When the whole body
    already came in with the headers (a webhook usually does), nothing is swapped. Elsewhere
    (Werkzeug's test client, another server) there is no client socket to bound, and the body is
    read as it comes; in a cluster the ingress controller buffers bodies anyway."""

    def __init__(self, sock: Any, unreader: Any, timeout: float) -> None:
        self._sock = sock
        self._unreader = unreader
        self._prior = sock.gettimeout()
        if unreader is not None:
            self._bounded: _DeadlineSocket | None = _DeadlineSocket(sock, time.monotonic() + timeout)
            unreader.sock = self._bounded
        else:  # gunicorn's reader is not one we know: bound each receive at least (a trickle can outlast it)
            self._bounded = None
            sock.settimeout(timeout)

    @classmethod
    def start(cls, environ: dict[str, Any], timeout: float, content_length: int | None) -> _BodyDeadline | None:
        sock = environ.get("gunicorn.socket")
        if sock is None:
            return None
        unreader = _gunicorn_unreader(environ.get("wsgi.input"), sock)
        if unreader is not None and content_length is not None and _buffered(unreader) >= content_length:
            return None  # nothing left to wait for
        return cls(sock, unreader, timeout)

    def end(self) -> None:
        if self._bounded is not None:
            self._unreader.sock = self._sock
            if not self._bounded.waited:
                return
        self._sock.settimeout(self._prior)  # back to blocking: gunicorn writes the answer on it

    def stop_reading(self) -> None:
        """Nothing more is read from this client: gunicorn closes the connection after the 408,
        and its graceful close, which drains what the client still sends, ends at once instead of
        lingering up to 2 s on the worker's main thread for every slow client."""
        with suppress(OSError):  # already gone
            self._sock.shutdown(socket.SHUT_RD)


def _gunicorn_unreader(stream: Any, sock: Any) -> Any:
    """The object gunicorn reads ``sock`` through (its ``sock`` is what we bound), if we find it."""
    reader = getattr(stream, "reader", None)  # gunicorn.http.body.Body -> Length/Chunked/EOFReader
    unreader = getattr(reader, "unreader", None) or getattr(getattr(reader, "req", None), "unreader", None)
    return unreader if getattr(unreader, "sock", None) is sock else None


def _buffered(unreader: Any) -> int:
    """How much gunicorn has already read past the headers."""
    buffer = getattr(unreader, "buf", None)
    return len(buffer.getvalue()) if buffer is not None else 0
