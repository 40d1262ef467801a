"""Wires segment-service: settings → engine, keys, unit of work, message bus."""

from __future__ import annotations

from dataclasses import dataclass

from cityline_common.crypto import BlindIndex, FieldCipher
from cityline_common.db import make_engine
from cityline_common.messagebus import MessageBus
from sqlalchemy import Engine

from segment_service.config import Settings
from segment_service.service_layer import handlers
from segment_service.service_layer.unit_of_work import SegmentUnitOfWork


@dataclass
class SegmentService:
    settings: Settings
    engine: Engine
    bus: MessageBus
    cipher: FieldCipher
    index: BlindIndex

    def uow(self) -> SegmentUnitOfWork:
        return SegmentUnitOfWork(self.engine, self.cipher, self.index)


def bootstrap(settings: Settings, engine: Engine | None = None) -> SegmentService:
    return SegmentService(
        settings=settings,
        engine=engine or make_engine(settings.database_url),
        bus=MessageBus(handlers.COMMAND_HANDLERS, handlers.EVENT_HANDLERS),  # type: ignore[arg-type]
        cipher=FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value()),
        index=BlindIndex(settings.blind_index_key.get_secret_value()),
    )
