"""Wires dispatcher: settings → engine. Its domain wiring grows with its issues."""

from __future__ import annotations

from dataclasses import dataclass

from cityline_common.db import make_engine
from sqlalchemy import Engine

from dispatcher.config import Settings


@dataclass
class DispatcherService:
    settings: Settings
    engine: Engine


def bootstrap(settings: Settings, engine: Engine | None = None) -> DispatcherService:
    return DispatcherService(settings=settings, engine=engine or make_engine(settings.database_url))
