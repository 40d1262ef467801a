"""Wires richmenu-service: settings → engine. Its domain wiring grows with its issues."""

from __future__ import annotations

from dataclasses import dataclass

from cityline_common.db import make_engine
from sqlalchemy import Engine

from richmenu_service.config import Settings


@dataclass
class RichmenuService:
    settings: Settings
    engine: Engine


def bootstrap(settings: Settings, engine: Engine | None = None) -> RichmenuService:
    return RichmenuService(settings=settings, engine=engine or make_engine(settings.database_url))
