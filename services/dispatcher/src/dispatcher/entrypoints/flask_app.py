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
    # No /internal routes yet; the guard is there already: each one will need a token for this
    # service's audience, and a view declares who may call it with @requires(...).
    return create_base_app("dispatcher", readiness, internal_verifier=service.verifier)
