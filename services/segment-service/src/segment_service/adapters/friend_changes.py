"""Daily counts of follows and blocks: the port, and its PostgreSQL adapter (``segment.friend_changes_daily``)."""

from __future__ import annotations

import abc
from datetime import date

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from segment_service.adapters.orm import friend_changes_daily
from segment_service.domain.friends import SHARDS, FriendChange


class AbstractFriendChanges(abc.ABC):
    @abc.abstractmethod
    def count(self, day: date, change: FriendChange, shard: int) -> None:
        """Add one ``change`` to ``day`` (in the current transaction)."""

    @abc.abstractmethod
    def between(self, first: date, last: date) -> dict[date, tuple[int, int]]:
        """(follows, unfollows) of each day from ``first`` to ``last`` that has a count."""

    @abc.abstractmethod
    def first_day(self) -> date | None:
        """The earliest day with a count (None: nothing counted yet)."""


class SqlFriendChanges(AbstractFriendChanges):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def count(self, day: date, change: FriendChange, shard: int) -> None:
        if not 0 <= shard < SHARDS:
            raise ValueError(f"shard must be from 0 to {SHARDS - 1}")
        follows, unfollows = (1, 0) if change is FriendChange.FOLLOW else (0, 1)
        table = friend_changes_daily
        statement = insert(table).values(day=day, shard=shard, follows=follows, unfollows=unfollows)
        self._connection.execute(statement.on_conflict_do_update(
            index_elements=[table.c.day, table.c.shard],
            set_={"follows": table.c.follows + statement.excluded.follows,
                  "unfollows": table.c.unfollows + statement.excluded.unfollows},
        ))

    def between(self, first: date, last: date) -> dict[date, tuple[int, int]]:
        table = friend_changes_daily
        rows = self._connection.execute(
            select(table.c.day, func.sum(table.c.follows), func.sum(table.c.unfollows))
            .where(table.c.day >= first, table.c.day <= last)
            .group_by(table.c.day)
        )
        return {day: (int(follows), int(unfollows)) for day, follows, unfollows in rows}

    def first_day(self) -> date | None:
        found: date | None = self._connection.execute(select(func.min(friend_changes_daily.c.day))).scalar()
        return found
