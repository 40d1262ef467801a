"""Wires richmenu-service: settings → engine, ports (LINE, segment-service), unit of work, message bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from cityline_common.crypto import FieldCipher
from cityline_common.db import make_engine
from cityline_common.internal_auth import InternalTokenVerifier
from cityline_common.messagebus import MessageBus
from sqlalchemy import Engine

from richmenu_service.adapters.line import AbstractLine, SdkLine
from richmenu_service.adapters.segments import AbstractSegments, HttpSegments
from richmenu_service.config import Settings
from richmenu_service.manifest import MANIFEST
from richmenu_service.service_layer.handlers import handlers
from richmenu_service.service_layer.ports import Ports
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork, SqlRichmenuUnitOfWork


@dataclass
class RichmenuService:
    settings: Settings
    engine: Engine
    bus: MessageBus[AbstractRichmenuUnitOfWork]
    verifier: InternalTokenVerifier  # its internal API's tokens (audience: its manifest name)
    ports: Ports


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(
    settings: Settings,
    engine: Engine | None = None,
    uow_factory: Callable[[], AbstractRichmenuUnitOfWork] | None = None,
    *,
    line: AbstractLine | None = None,
    segments: AbstractSegments | None = None,
    clock: Callable[[], datetime] = utc_now,
    pool_size: int = 5,
) -> RichmenuService:
    engine = engine or make_engine(settings.database_url, pool_size=pool_size)
    cipher = FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value())
    ports = Ports(
        line=line or SdkLine(settings),
        segments=segments or HttpSegments(settings.segment_service_url, settings.internal_token_signer(MANIFEST.name)),
        clock=clock, line_concurrency=settings.richmenu_line_concurrency,
    )
    bus = MessageBus(uow_factory or partial(SqlRichmenuUnitOfWork, engine, cipher), handlers(ports))
    verifier = settings.internal_token_verifier(MANIFEST.name)
    return RichmenuService(settings=settings, engine=engine, bus=bus, verifier=verifier, ports=ports)
