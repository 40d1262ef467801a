"""Wires segment-service: settings → engine, keys, internal API verifier, unit of work, message bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from cityline_common.contracts import seal_line_user_id
from cityline_common.crypto import BlindIndex, FieldCipher
from cityline_common.db import make_engine
from cityline_common.internal_auth import InternalTokenVerifier
from cityline_common.messagebus import MessageBus
from sqlalchemy import Engine

from segment_service.adapters.line_api import AbstractLine, SdkLine
from segment_service.config import Settings
from segment_service.manifest import MANIFEST
from segment_service.service_layer.handlers import handlers
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork, SqlSegmentUnitOfWork
from segment_service.service_layer.views import StatusCounts


@dataclass
class SegmentService:
    settings: Settings
    engine: Engine
    bus: MessageBus[AbstractSegmentUnitOfWork]
    cipher: FieldCipher
    verifier: InternalTokenVerifier  # tokens for the audience "segment" (its manifest name)
    timezone: ZoneInfo  # the city's: daily friend counts follow its calendar days
    status_counts: StatusCounts  # the dashboard's 友だち数/ブロック数, at most seconds old
    line: AbstractLine  # greetings and the 受信設定 chat's answers (replies, pushes)


def bootstrap(
    settings: Settings,
    engine: Engine | None = None,
    uow_factory: Callable[[], AbstractSegmentUnitOfWork] | None = None,
    line: AbstractLine | None = None,
) -> SegmentService:
    """``uow_factory`` replaces PostgreSQL (in-memory handler tests), ``line`` the LINE API."""
    engine = engine or make_engine(settings.database_url)
    cipher = FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value())
    index = BlindIndex(settings.blind_index_key.get_secret_value())
    factory = uow_factory or partial(SqlSegmentUnitOfWork, engine, cipher, index)
    timezone = settings.timezone()
    bus = MessageBus(factory, handlers(partial(seal_line_user_id, cipher), timezone))
    verifier = settings.internal_token_verifier(MANIFEST.name)
    return SegmentService(settings=settings, engine=engine, bus=bus, cipher=cipher, verifier=verifier,
                          timezone=timezone, status_counts=StatusCounts(),
                          line=line or SdkLine(settings, max_rate=settings.line_answer_max_rate, attempts=3, cap=2.0))
