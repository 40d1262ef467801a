"""Wires richmenu-service: settings → engine, internal API verifier, unit of work, message bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from cityline_common.db import make_engine
from cityline_common.internal_auth import InternalTokenVerifier
from cityline_common.messagebus import MessageBus
from sqlalchemy import Engine

from richmenu_service.config import Settings
from richmenu_service.manifest import MANIFEST
from richmenu_service.service_layer.handlers import handlers
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork, SqlRichmenuUnitOfWork


@dataclass
class RichmenuService:
    settings: Settings
    engine: Engine
    bus: MessageBus[AbstractRichmenuUnitOfWork]
    verifier: InternalTokenVerifier  # its internal API's tokens (audience: its manifest name)


def bootstrap(
    settings: Settings,
    engine: Engine | None = None,
    uow_factory: Callable[[], AbstractRichmenuUnitOfWork] | None = None,
) -> RichmenuService:
    engine = engine or make_engine(settings.database_url)
    bus = MessageBus(uow_factory or partial(SqlRichmenuUnitOfWork, engine), handlers())
    verifier = settings.internal_token_verifier(MANIFEST.name)
    return RichmenuService(settings=settings, engine=engine, bus=bus, verifier=verifier)
