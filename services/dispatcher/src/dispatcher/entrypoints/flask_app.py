"""HTTP entrypoint: health, readiness and metrics; dispatcher's API joins here."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.web import bootstrap_from_environment, create_base_app
from flask import Flask

from dispatcher.bootstrap import DispatcherService, bootstrap
from dispatcher.config import Settings
from dispatcher.manifest import MANIFEST


def create_app(service: DispatcherService | None = None) -> Flask:
    service = service or bootstrap_from_environment("dispatcher", Settings, bootstrap)
    readiness = standard_readiness(service.engine, MANIFEST.schema, service.settings.amqp_url)
    return create_base_app("dispatcher", readiness)
