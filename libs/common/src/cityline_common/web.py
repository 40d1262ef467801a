"""The Flask plumbing every service shares: health, readiness, metrics, JSON errors, RED metrics,
access logs.

Metric labels stay bounded whatever a client sends: a method outside HTTP's usual set is counted
as ``other`` and a path no route matches as ``unmatched`` (made-up methods or paths must not mint
new series and fill a pod's disk with multiprocess files).

Access logs: one JSON line per request on the ``cityline.access`` logger with the client address
(from ``X-Forwarded-For``, trusting only ``TRUSTED_PROXIES`` proxies in front), the request id
(``X-Request-Id`` when the proxy set a well-formed one, else a new one; echoed in the response),
method, route template, status, duration and user agent. Never the path's values, the query
string, a header's token or a body: the route template is what is logged.

Traces: one server span per request (``METHOD route``, W3C trace context continued from the
caller's ``traceparent``), started before the first ``before_request`` hook and ended at teardown.
It is a few lines here rather than opentelemetry-instrumentation-flask, which cost ingress-webhook
a fifth of its CPU per webhook (docs/benchmarks.md): it builds the full semantic-convention
attribute set and its own metrics for every request, sampled or not; ours sets the attributes only
on spans that are recorded, and the RED metrics are already ours.

Internal APIs deny by default: every request under ``/internal/`` must carry a bearer token that
the app's ``internal_verifier`` accepts for this service's audience, else 401 before any view runs;
an app created without a verifier refuses them all (see :mod:`cityline_common.internal_auth`).
Services declare who may call each internal view with ``@requires(...)``.

Services build their own routes on the app returned by :func:`create_base_app`; entrypoints stay
thin and call the service layer.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, g, jsonify, request
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import BaseWSGIServer, make_server

from cityline_common.internal_auth import InternalTokenVerifier, install_internal_guard
from cityline_common.logging import configure_logging
from cityline_common.metrics import HTTP_DURATION, HTTP_REQUESTS, render_latest
from cityline_common.settings import CommonSettings, load_settings_or_exit
from cityline_common.tracing import setup_tracing

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]
"""Raises when the dependency it checks is not usable."""

_UNINSTRUMENTED = frozenset({"/healthz", "/readyz", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = logging.getLogger("cityline.access")
_tracer = trace.get_tracer(__name__)


def method_label(method: str) -> str:
    return method if method in _METHODS else "other"


def trusted_proxies_from_env() -> int:
    """How many proxies in front are trusted to append to X-Forwarded-For and X-Forwarded-Proto (0: use
    the peer's address and the connection's own scheme)."""
    raw = os.environ.get("TRUSTED_PROXIES", "0")
    if not raw.isdigit() or int(raw) > 5:
        raise ValueError(f"TRUSTED_PROXIES must be a whole number from 0 to 5, not {raw[:20]!r}")
    return int(raw)

SettingsT = TypeVar("SettingsT", bound=CommonSettings)
ServiceT = TypeVar("ServiceT")


def bootstrap_from_environment(
    process: str, settings_cls: type[SettingsT], bootstrap: Callable[[SettingsT], ServiceT]
) -> ServiceT:
    """The start of every entrypoint run for real: settings from the environment (a clear message
    and exit 2 when wrong), logging, then the service's own bootstrap. Tests pass a service instead."""
    settings = load_settings_or_exit(settings_cls)
    configure_logging(process, settings)
    return bootstrap(settings)


def create_base_app(
    service: str,
    readiness_checks: Mapping[str, ReadinessCheck],
    import_name: str | None = None,
    informational_checks: Mapping[str, ReadinessCheck] | None = None,
    trusted_proxies: int | None = None,
    *,
    internal_verifier: InternalTokenVerifier | None = None,
) -> Flask:
    """``import_name`` is the service package, so Flask finds its templates and static files.

    ``readiness_checks`` must all pass for /readyz to answer 200; ``informational_checks`` are
    reported but do not take the instance out of service (a dependency it can work without).

    ``internal_verifier`` checks the bearer token of every request under ``/internal/`` (audience:
    the service's manifest name); without one, every such request is answered 401. The verified
    caller is :func:`cityline_common.internal_auth.current_caller` (``flask.g.caller``).
    """
    app = Flask(import_name or __name__)
    proxies = trusted_proxies_from_env() if trusted_proxies is None else trusted_proxies
    if proxies:
        # The same trusted proxies say whether the client spoke TLS to them (X-Forwarded-Proto), so
        # ``request.is_secure`` is true behind a TLS-terminating ingress (admin-ui's HSTS and CSRF
        # Referer check); with no trusted proxy the header is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        results: dict[str, str] = {}
        ready = True
        for name, check in {**(informational_checks or {}), **readiness_checks}.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # readiness reports any failure, it never raises
                ready = ready and name not in readiness_checks
                results[name] = f"unavailable: {type(exc).__name__}"
                log.warning("readiness check failed", extra={"check": name, "error": str(exc)[:200]})
        return jsonify(status="ok" if ready else "unavailable", checks=results), 200 if ready else 503

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = render_latest()
        return Response(body, content_type=content_type)

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        if request.path not in _UNINSTRUMENTED:
            _start_server_span()

    install_internal_guard(app, service, internal_verifier)

    @app.after_request
    def _record(response: Response) -> Response:
        if request.path in _UNINSTRUMENTED:
            return response
        route = request.url_rule.rule if request.url_rule else "unmatched"
        method = method_label(request.method)
        duration = time.perf_counter() - g.get("request_started", time.perf_counter())
        _record_status_on_span(response.status_code)
        HTTP_REQUESTS.labels(service, method, route, str(response.status_code)).inc()
        HTTP_DURATION.labels(service, method, route).observe(duration)
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        access_log.info("%s %s %s %.1f ms", method, route, response.status_code, duration * 1000, extra={
            "client": request.remote_addr, "request_id": request_id, "method": method, "route": route,
            "status": response.status_code, "duration_ms": round(duration * 1000, 2),
            "user_agent": (request.user_agent.string or "")[:200],
        })
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify(error=exc.name, reason=exc.description), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        # Never a stack trace to the caller; the log has it (redacted).
        log.exception("unhandled error", extra={"path": request.path})
        return jsonify(error="Internal Server Error", reason="unexpected error; see server logs"), 500

    app.teardown_request(_end_server_span)
    # Apps are created inside gunicorn workers (no preload), so the export thread is fork-safe here.
    setup_tracing(service)
    return app


def _start_server_span() -> None:
    """The request's server span, current until teardown; continues the caller's trace if any."""
    route = request.url_rule.rule if request.url_rule else "unmatched"
    method = method_label(request.method)
    parent = propagate.extract(request.headers)
    span = _tracer.start_span(f"{method} {route}", context=parent, kind=trace.SpanKind.SERVER)
    if span.is_recording():
        span.set_attributes({"http.request.method": method, "http.route": route, "url.scheme": request.scheme,
                             "request.id": g.request_id})
    g.span = span
    g.span_context_token = otel_context.attach(trace.set_span_in_context(span, parent))


def bind_host() -> str:
    """Where HTTP servers listen: loopback locally, ``0.0.0.0`` in the container image."""
    return os.environ.get("BIND_HOST", "127.0.0.1")


def serve_in_background(app: Flask, port: int) -> BaseWSGIServer:
    """Serve ``app`` from a daemon thread on ``port`` (0: any free port)."""
    server = make_server(bind_host(), port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
    log.info("health and metrics endpoints listening", extra={"port": server.server_port})
    return server


def add_http_port_option(parser: argparse.ArgumentParser) -> None:
    """``--http-port`` for the processes gunicorn does not run (AMQP consumers, the outbox relay)."""
    parser.add_argument("--http-port", type=int, default=None,
                        help="serve /healthz, /readyz and /metrics on this port (0: any free port)")


def serve_worker_endpoints(
    process: str, readiness_checks: Mapping[str, ReadinessCheck], port: int | None
) -> BaseWSGIServer | None:
    """/healthz, /readyz and /metrics of a worker process, so Kubernetes probes it and Prometheus
    scrapes it like a web service; nothing when ``port`` is None (no ``--http-port``)."""
    if port is None:
        return None
    return serve_in_background(create_base_app(process, readiness_checks), port)


def json_object() -> dict[str, Any] | None:
    """The request's JSON body if it is an object; None for anything else (no body, not JSON, a list)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def bad_request(reason: str, status: int = 400) -> tuple[Response, int]:
    """The one shape of a client error: a reason a person can act on."""
    return jsonify(error="Bad Request" if status == 400 else "Client Error", reason=reason), status


def _record_status_on_span(status: int) -> None:
    span = g.get("span")
    if span is not None and span.is_recording():
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(trace.StatusCode.ERROR)


def _end_server_span(error: BaseException | None) -> None:
    span = g.pop("span", None)
    if span is None:
        return
    if error is not None and span.is_recording():
        span.record_exception(error)
        span.set_status(trace.StatusCode.ERROR, type(error).__name__)
    span.end()
    otel_context.detach(g.pop("span_context_token"))
