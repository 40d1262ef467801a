"""HTTP entrypoint: health, readiness, metrics and dispatcher's internal API (API.md)."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.web import bootstrap_from_environment, create_base_app
from flask import Flask

from dispatcher.bootstrap import DispatcherService, bootstrap
from dispatcher.config import Settings
from dispatcher.entrypoints.deliveries_api import register_deliveries_api
from dispatcher.manifest import MANIFEST


def create_app(service: DispatcherService | None = None) -> Flask:
    service = service or bootstrap_from_environment("dispatcher", Settings, bootstrap)
    readiness = standard_readiness(service.engine, MANIFEST.schema, service.settings.amqp_url)
    app = create_base_app("dispatcher", readiness, internal_verifier=service.verifier)
    register_deliveries_api(app, service)
    return app
