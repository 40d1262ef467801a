"""HTTP entrypoint: ``POST /callback`` for LINE, plus health, readiness and metrics."""

from __future__ import annotations

from cityline_common.db import check_schema
from cityline_common.web import bootstrap_from_environment, create_base_app
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ingress_webhook import metrics
from ingress_webhook.bootstrap import IngressService, bootstrap
from ingress_webhook.config import Settings
from ingress_webhook.domain.commands import AcceptWebhook, Outcome
from ingress_webhook.manifest import MANIFEST

_STATUS = {
    Outcome.ACCEPTED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.SPOOLED: 200,
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
    # Werkzeug refuses a larger body with 413 before reading it (also for chunked bodies, while reading).
    app.config["MAX_CONTENT_LENGTH"] = service.settings.webhook_max_body_bytes

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_: RequestEntityTooLarge) -> tuple[Response, int]:
        metrics.WEBHOOK_REQUESTS.labels("too_large").inc()
        return jsonify(error="Payload Too Large", reason="webhook body over the configured limit"), 413

    limit = service.settings.webhook_max_body_bytes

    @app.post(service.settings.webhook_path)
    def callback() -> tuple[Response, int]:
        body = _read_body(limit)
        if body is None:
            return too_large(RequestEntityTooLarge())
        result = service.bus.handle(AcceptWebhook(body, tuple(request.headers.getlist("X-Line-Signature"))))
        status = _STATUS[result.outcome]
        if status == 200:
            return jsonify(status="ok"), 200
        if result.outcome in {Outcome.SIGNATURE_MISSING, Outcome.SIGNATURE_INVALID}:
            # No detail for a caller that cannot sign: nothing to learn from us.
            return jsonify(error="unauthorized" if status == 401 else "bad request"), status
        return jsonify(error=result.outcome.value, reason=result.reason), status

    return app


def _read_body(limit: int) -> bytes | None:
    """The raw body, or None when it is over ``limit``.

    With a Content-Length, Werkzeug has already refused a body over MAX_CONTENT_LENGTH (413)
    without reading it. A chunked body has no length: read it in pieces and stop at the limit
    (Werkzeug would silently truncate it instead).
    """
    if request.content_length is not None:
        return request.get_data(cache=False)
    stream = request.environ["wsgi.input"]
    pieces: list[bytes] = []
    size = 0
    while piece := stream.read(65536):
        size += len(piece)
        if size > limit:
            return None
        pieces.append(piece)
    return b"".join(pieces)
