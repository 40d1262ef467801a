"""HTTP entrypoint: health, readiness and metrics; richmenu-service's API joins here."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.logging import configure_logging
from cityline_common.settings import load_settings_or_exit
from cityline_common.web import create_base_app
from flask import Flask

from richmenu_service.bootstrap import RichmenuService, bootstrap
from richmenu_service.config import Settings


def create_app(service: RichmenuService | None = None) -> Flask:
    if service is None:
        settings = load_settings_or_exit(Settings)
        configure_logging("richmenu-service", settings.log_level, settings.log_format)
        service = bootstrap(settings)
    return create_base_app(
        "richmenu-service", standard_readiness(service.engine, "richmenu", service.settings.amqp_url)
    )
