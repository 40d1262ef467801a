"""Wires dispatcher: settings → engine, ports (segment-service, LINE), unit of work, message bus."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from cityline_common.crypto import FieldCipher
from cityline_common.db import make_engine
from cityline_common.internal_auth import InternalTokenVerifier
from cityline_common.messagebus import MessageBus
from sqlalchemy import Engine

from dispatcher.adapters.line import AbstractLineSender, SdkLineSender
from dispatcher.adapters.segments import AbstractRecipients, HttpRecipients
from dispatcher.config import Settings
from dispatcher.domain.lifecycle import SendPolicy
from dispatcher.manifest import MANIFEST
from dispatcher.service_layer.deliveries import Ports
from dispatcher.service_layer.handlers import handlers
from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork, SqlDispatcherUnitOfWork


@dataclass
class DispatcherService:
    settings: Settings
    engine: Engine
    bus: MessageBus[AbstractDispatcherUnitOfWork]
    verifier: InternalTokenVerifier  # its internal API's tokens (audience: its manifest name)
    ports: Ports


def utc_now() -> datetime:
    return datetime.now(UTC)


def policy_of(settings: Settings) -> SendPolicy:
    always = frozenset(key.strip() for key in settings.always_delivered_categories.split(",") if key.strip())
    return SendPolicy(settings.sending_hours_start, settings.sending_hours_end, always,
                      settings.second_confirmation_threshold)


def bootstrap(
    settings: Settings,
    engine: Engine | None = None,
    uow_factory: Callable[[], AbstractDispatcherUnitOfWork] | None = None,
    *,
    recipients: AbstractRecipients | None = None,
    line: AbstractLineSender | None = None,
    clock: Callable[[], datetime] = utc_now,
    pool_size: int = 5,
) -> DispatcherService:
    engine = engine or make_engine(settings.database_url, pool_size=pool_size)
    cipher = FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value())
    media_key = hmac.new(settings.blind_index_key.get_secret_value().encode(), b"dispatcher.media",
                         hashlib.sha256).digest()
    ports = Ports(
        recipients=recipients or HttpRecipients(settings.segment_service_url,
                                                settings.internal_token_signer(MANIFEST.name)),
        line=line or SdkLineSender(settings), clock=clock, policy=policy_of(settings), cipher=cipher,
        media_key=media_key, public_base_url=settings.public_base_url,
    )
    bus = MessageBus(uow_factory or partial(SqlDispatcherUnitOfWork, engine), handlers(ports))
    verifier = settings.internal_token_verifier(MANIFEST.name)
    return DispatcherService(settings=settings, engine=engine, bus=bus, verifier=verifier, ports=ports)
