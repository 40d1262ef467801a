"""Residents' LINE profiles (display name sealed to its row, language) for `fetch-profiles`."""

from __future__ import annotations

import abc
import re
import uuid
from collections.abc import Sequence
from datetime import datetime

from cityline_common.crypto import FieldCipher
from sqlalchemy import Engine, select

from segment_service.adapters.line_api import Profile
from segment_service.adapters.orm import DISPLAY_NAME, LINE_USER_ID, residents
from segment_service.domain.model import ResidentStatus

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
MAX_DISPLAY_NAME = 100  # LINE's are at most 20 characters; anything longer is cut, not refused


def clean_language(value: str | None) -> str | None:
    """A BCP 47 tag as LINE gives it (``ja``, ``en``, ``zh-Hant``), or None for anything else."""
    if value is None or len(value) > 16 or not _LANGUAGE.fullmatch(value):
        return None
    return value


class AbstractProfileStore(abc.ABC):
    @abc.abstractmethod
    def pending(self, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
        """(resident id, LINE user id) of following residents whose profile was never fetched."""

    @abc.abstractmethod
    def save(self, found: Sequence[tuple[uuid.UUID, Profile | None]], at: datetime) -> None:
        """Store each profile (None: LINE has none for us; marked fetched all the same)."""


class SqlProfileStore(AbstractProfileStore):
    def __init__(self, engine: Engine, cipher: FieldCipher) -> None:
        self._engine = engine
        self._cipher = cipher

    def pending(self, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
        query = (select(residents.c.id, residents.c.line_user_id_ct)
                 .where(residents.c.profile_fetched_at.is_(None),
                        residents.c.status == ResidentStatus.FOLLOWING.value)
                 .order_by(residents.c.id).limit(limit))
        if after is not None:
            query = query.where(residents.c.id > after)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [(row.id, self._cipher.decrypt_for_row(row.line_user_id_ct, LINE_USER_ID.context, row.id))
                for row in rows]

    def save(self, found: Sequence[tuple[uuid.UUID, Profile | None]], at: datetime) -> None:
        with self._engine.begin() as connection:
            for resident_id, profile in found:
                name = None if profile is None else profile.display_name[:MAX_DISPLAY_NAME]
                connection.execute(
                    residents.update()
                    .where(residents.c.id == resident_id, residents.c.profile_fetched_at.is_(None))
                    .values(display_name_ct=None if name is None else self._cipher.encrypt_for_row(
                                name, DISPLAY_NAME.context, resident_id),
                            language=None if profile is None else clean_language(profile.language),
                            profile_fetched_at=at)
                )
