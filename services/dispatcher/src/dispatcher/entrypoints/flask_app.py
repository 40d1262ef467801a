"""HTTP entrypoint: health, readiness and metrics; dispatcher's API joins here."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.logging import configure_logging
from cityline_common.settings import load_settings_or_exit
from cityline_common.web import create_base_app
from flask import Flask

from dispatcher.bootstrap import DispatcherService, bootstrap
from dispatcher.config import Settings


def create_app(service: DispatcherService | None = None) -> Flask:
    if service is None:
        settings = load_settings_or_exit(Settings)
        configure_logging("dispatcher", settings.log_level, settings.log_format)
        service = bootstrap(settings)
    return create_base_app("dispatcher", standard_readiness(service.engine, "dispatcher", service.settings.amqp_url))
