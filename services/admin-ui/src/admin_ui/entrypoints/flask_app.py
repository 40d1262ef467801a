"""HTTP entrypoint of the staff console (管理画面)."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.logging import configure_logging
from cityline_common.settings import load_settings_or_exit
from cityline_common.web import create_base_app
from flask import Flask, render_template

from admin_ui.bootstrap import AdminUi, bootstrap
from admin_ui.config import Settings


def create_app(service: AdminUi | None = None) -> Flask:
    if service is None:
        settings = load_settings_or_exit(Settings)
        configure_logging("admin-ui", settings.log_level, settings.log_format)
        service = bootstrap(settings)
    app = create_base_app(
        "admin-ui", standard_readiness(service.engine, "admin", service.settings.amqp_url), import_name="admin_ui"
    )

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/")
    def system_status() -> str:
        return render_template(
            "status.html",
            statuses=service.internal.readiness(),
            residents=service.internal.resident_counts(),
        )

    return app
