"""Wires dispatcher: settings → engine, internal API verifier, unit of work, message bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from cityline_common.db import make_engine
from cityline_common.internal_auth import InternalTokenVerifier
from cityline_common.messagebus import MessageBus
from sqlalchemy import Engine

from dispatcher.config import Settings
from dispatcher.manifest import MANIFEST
from dispatcher.service_layer.handlers import handlers
from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork, SqlDispatcherUnitOfWork


@dataclass
class DispatcherService:
    settings: Settings
    engine: Engine
    bus: MessageBus[AbstractDispatcherUnitOfWork]
    verifier: InternalTokenVerifier  # its internal API's tokens (audience: its manifest name)


def bootstrap(
    settings: Settings,
    engine: Engine | None = None,
    uow_factory: Callable[[], AbstractDispatcherUnitOfWork] | None = None,
) -> DispatcherService:
    engine = engine or make_engine(settings.database_url)
    bus = MessageBus(uow_factory or partial(SqlDispatcherUnitOfWork, engine), handlers())
    verifier = settings.internal_token_verifier(MANIFEST.name)
    return DispatcherService(settings=settings, engine=engine, bus=bus, verifier=verifier)
