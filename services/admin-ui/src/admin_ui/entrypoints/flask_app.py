"""HTTP entrypoint of the staff console (管理画面)."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.web import bootstrap_from_environment, create_base_app
from flask import Flask, Response, render_template

from admin_ui.bootstrap import AdminUi, bootstrap
from admin_ui.config import Settings
from admin_ui.domain.commands import ShowSystemStatus
from admin_ui.manifest import MANIFEST


def create_app(service: AdminUi | None = None) -> Flask:
    service = service or bootstrap_from_environment("admin-ui", Settings, bootstrap)
    app = create_base_app(
        "admin-ui", standard_readiness(service.engine, MANIFEST.schema, service.settings.amqp_url),
        import_name="admin_ui",
    )

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/")
    def system_status() -> str:
        return render_template("status.html", status=service.bus.handle(ShowSystemStatus()))

    return app
