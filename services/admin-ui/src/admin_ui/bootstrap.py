"""Wires admin-ui: settings → engine (its own schema), internal API client, message bus."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from cityline_common.crypto import FieldCipher
from cityline_common.db import make_engine
from cityline_common.manifest import all_processes
from cityline_common.messagebus import Handlers, MessageBus
from sqlalchemy import Engine

from admin_ui.adapters.internal_api import AbstractInternalApi, HttpInternalApi
from admin_ui.adapters.passwords import Argon2PasswordHasher
from admin_ui.config import HousekeepingSettings, Settings
from admin_ui.domain.commands import SweepExpired
from admin_ui.domain.security import PasswordHasher
from admin_ui.domain.sessions import SessionPolicy
from admin_ui.domain.status import StatusTarget
from admin_ui.service_layer import accounts
from admin_ui.service_layer.handlers import handlers, utc_now
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork, SqlAdminUnitOfWork


@dataclass
class AdminUi:
    settings: Settings
    engine: Engine
    bus: MessageBus[AbstractAdminUnitOfWork]
    hasher: PasswordHasher | None = None


def status_targets() -> list[StatusTarget]:
    """Every labelled process of every installed service, found at ``$<NAME>_URL`` (the chart sets
    these to the in-cluster Service; locally they default to the process's port on loopback)."""
    return [
        StatusTarget(process.name, process.label, os.environ.get(process.url_env) or f"http://127.0.0.1:{process.port}")
        for process in all_processes()
        if process.label is not None and process.port is not None
    ]


def bootstrap(
    settings: Settings,
    engine: Engine | None = None,
    internal: AbstractInternalApi | None = None,
    uow_factory: Callable[[], AbstractAdminUnitOfWork] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AdminUi:
    """``uow_factory`` replaces PostgreSQL (in-memory stories); ``clock`` lets tests move time."""
    engine = engine or make_engine(settings.database_url)
    internal = internal or HttpInternalApi(settings.segment_service_url, settings.internal_api_timeout_seconds,
                                           settings.token_signer(), settings.dispatcher_url,
                                           settings.richmenu_service_url)
    cipher = FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value())
    hasher = Argon2PasswordHasher(settings.admin_ui_argon2_time_cost, settings.admin_ui_argon2_memory_kib)
    bus = MessageBus(
        uow_factory or partial(SqlAdminUnitOfWork, engine, cipher),
        handlers(internal, status_targets(), hasher=hasher, clock=clock or utc_now),
    )
    return AdminUi(settings=settings, engine=engine, bus=bus, hasher=hasher)


def bootstrap_housekeeping(
    settings: HousekeepingSettings,
    engine: Engine | None = None,
    uow_factory: Callable[[], AbstractAdminUnitOfWork] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> MessageBus[AbstractAdminUnitOfWork]:
    """The housekeeping process's bus: only the sweep (no password hashing, no internal API)."""
    if uow_factory is None:
        cipher = FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value())
        uow_factory = partial(SqlAdminUnitOfWork, engine or make_engine(settings.database_url, pool_size=1), cipher)
    config = accounts.AccessConfig(_NoPasswords(), clock or utc_now, SessionPolicy())
    return MessageBus(uow_factory, Handlers[AbstractAdminUnitOfWork]().command(
        SweepExpired, accounts.sweep_expired(config)))


class _NoPasswords:
    """Housekeeping checks no password; AccessConfig needs a hasher all the same."""

    dummy_hash = ""

    def hash(self, password: str) -> str:
        raise NotImplementedError("housekeeping hashes no password")

    def verify(self, password_hash: str, password: str) -> bool:
        return False

    def needs_rehash(self, password_hash: str) -> bool:
        return False
