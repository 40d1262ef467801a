"""Wires admin-ui: settings → engine (its own schema), internal API client."""

from __future__ import annotations

from dataclasses import dataclass

from cityline_common.db import make_engine
from sqlalchemy import Engine

from admin_ui.adapters.internal_api import InternalApi
from admin_ui.config import Settings


@dataclass
class AdminUi:
    settings: Settings
    engine: Engine
    internal: InternalApi


def bootstrap(settings: Settings, engine: Engine | None = None) -> AdminUi:
    urls = {
        "ingress-webhook": settings.ingress_webhook_url,
        "segment-service": settings.segment_service_url,
        "richmenu-service": settings.richmenu_service_url,
        "dispatcher": settings.dispatcher_url,
        "segment-consumer": settings.segment_consumer_url,
        "outbox-relay": settings.outbox_relay_url,
    }
    return AdminUi(
        settings=settings,
        engine=engine or make_engine(settings.database_url),
        internal=InternalApi(urls, settings.internal_api_timeout_seconds),
    )
