"""HTTP entrypoint: health, readiness, metrics and richmenu-service's internal API (API.md)."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.web import bootstrap_from_environment, create_base_app
from flask import Flask

from richmenu_service.bootstrap import RichmenuService, bootstrap
from richmenu_service.config import Settings
from richmenu_service.entrypoints.menus_api import register_menus_api
from richmenu_service.manifest import MANIFEST


def create_app(service: RichmenuService | None = None) -> Flask:
    service = service or bootstrap_from_environment("richmenu-service", Settings, bootstrap)
    readiness = standard_readiness(service.engine, MANIFEST.schema, service.settings.amqp_url)
    app = create_base_app("richmenu-service", readiness, internal_verifier=service.verifier)
    register_menus_api(app, service)
    return app
