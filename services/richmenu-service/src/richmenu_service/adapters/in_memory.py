"""In-memory stand-ins for handler tests and demos: LINE (menus, aliases, the default, per-user links, with a
record of each resident's effective menu) and segment-service's answers, and a whole service wired on them
(:func:`world`). The real ones are adapters/line.py and adapters/segments.py; the end-to-end tests use those
against the LINE emulator and segment-service."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cityline_common.messagebus import MessageBus

from richmenu_service.adapters.line import AbstractLine, LineRateLimited, LineRefused
from richmenu_service.adapters.repository import MemoryStore
from richmenu_service.adapters.segments import AbstractSegments, Member, Membership
from richmenu_service.service_layer.handlers import handlers
from richmenu_service.service_layer.ports import Ports
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork, MemoryRichmenuUnitOfWork


class InMemoryLine(AbstractLine):
    def __init__(self) -> None:
        self.menus: dict[str, dict[str, Any]] = {}
        self.images: dict[str, bytes] = {}
        self.aliases: dict[str, str] = {}
        self.default: str | None = None
        self.links: dict[str, str] = {}
        self.creates_left = 100
        self.batches = 0
        self.requests: list[str] = []
        self._ids = itertools.count(1)
        self.users: set[str] = set()  # whose effective menu is recorded
        self.history: dict[str, list[str | None]] = {}

    def _effective(self, user: str) -> str | None:
        return self.links.get(user) or self.default

    def _record(self, users: Sequence[str], change: Any) -> None:
        before = {user: self._effective(user) for user in self.users}
        change()
        for user in self.users:
            after = self._effective(user)
            if after != before[user]:
                self.history.setdefault(user, []).append(after)

    def create_menu(self, request: Mapping[str, Any]) -> str:
        self.requests.append("create")
        if self.creates_left <= 0:
            raise LineRateLimited(429, "The API rate limit has been exceeded")
        self.creates_left -= 1
        rich_menu_id = f"richmenu-{next(self._ids)}"
        self.menus[rich_menu_id] = dict(request)
        return rich_menu_id

    def upload_image(self, rich_menu_id: str, data: bytes, content_type: str) -> None:
        if rich_menu_id in self.images:
            raise LineRefused(400, "An image has already been uploaded to the rich menu")
        self.images[rich_menu_id] = data

    def get_menu(self, rich_menu_id: str) -> dict[str, Any] | None:
        return self.menus.get(rich_menu_id)

    def delete_menu(self, rich_menu_id: str) -> bool:
        if rich_menu_id not in self.menus:
            return False

        def gone() -> None:
            del self.menus[rich_menu_id]
            if self.default == rich_menu_id:
                self.default = None
            for user in [u for u, m in self.links.items() if m == rich_menu_id]:
                del self.links[user]
        self._record([], gone)
        return True

    def set_alias(self, alias_id: str, rich_menu_id: str) -> None:
        assert rich_menu_id in self.images, "LINE needs the image before an alias"
        self.aliases[alias_id] = rich_menu_id

    def get_alias(self, alias_id: str) -> str | None:
        return self.aliases.get(alias_id)

    def delete_alias(self, alias_id: str) -> None:
        self.aliases.pop(alias_id, None)

    def set_default(self, rich_menu_id: str | None) -> None:
        self._record([], lambda: setattr(self, "default", rich_menu_id))

    def get_default(self) -> str | None:
        return self.default

    def link(self, user_id: str, rich_menu_id: str) -> None:
        self.bulk_link(rich_menu_id, [user_id])

    def unlink(self, user_id: str) -> None:
        self.bulk_unlink([user_id])

    def bulk_link(self, rich_menu_id: str, user_ids: Sequence[str]) -> None:
        assert len(user_ids) <= 500
        if rich_menu_id not in self.images:
            raise LineRefused(400, "An image has not been uploaded to the rich menu")
        self._record(user_ids, lambda: self.links.update(dict.fromkeys(user_ids, rich_menu_id)))

    def bulk_unlink(self, user_ids: Sequence[str]) -> None:
        assert len(user_ids) <= 500
        self._record(user_ids, lambda: [self.links.pop(user, None) for user in user_ids])

    def unlink_all(self) -> str:
        self.batches += 1
        self._record([], self.links.clear)
        return f"batch-{self.batches}"

    def batch_phase(self, request_id: str) -> str:
        return "succeeded"


@dataclass
class InMemorySegments(AbstractSegments):
    """Residents by id: their LINE user id, whether they follow, and the segments they are in."""

    residents: dict[uuid.UUID, tuple[str, bool, set[str]]] = field(default_factory=dict)
    frozen: dict[str, list[str]] = field(default_factory=dict)
    asked: int = 0
    opened: int = 0  # LINE user ids asked for by position

    def add(self, line_user_id: str, *segments: str, following: bool = True) -> uuid.UUID:
        resident_id = uuid.uuid4()
        self.residents[resident_id] = (line_user_id, following, set(segments))
        return resident_id

    def membership(self, resident_id: uuid.UUID, segment_ids: Sequence[str]) -> Membership | None:
        self.asked += 1
        found = self.residents.get(resident_id)
        if found is None:
            return None
        line_user_id, following, segments = found
        return Membership(following, line_user_id if following else None, frozenset(segments & set(segment_ids)))

    def members(self, key: str, segment_id: str) -> Iterator[Member]:
        chosen = [(resident_id, line_user_id) for resident_id, (line_user_id, following, segments)
                  in self.residents.items() if following and segment_id in segments]
        self.frozen[key] = [line_user_id for _resident, line_user_id in chosen]
        for position, (resident_id, _line_user_id) in enumerate(chosen, start=1):
            yield Member(position, resident_id)

    def line_user_ids(self, key: str, positions: Sequence[int]) -> dict[int, str]:
        self.opened += len(positions)
        return {position: self.frozen[key][position - 1] for position in positions}


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    line: InMemoryLine
    segments: InMemorySegments
    clock: Clock
    store: MemoryStore
    bus: MessageBus[AbstractRichmenuUnitOfWork]
    emitted: list[Any]  # what every unit of work emitted, once committed


def world() -> World:
    line, segments, clock, store = InMemoryLine(), InMemorySegments(), Clock(), MemoryStore()
    ports = Ports(line=line, segments=segments, clock=clock, batch_wait_seconds=0.0, line_concurrency=1)
    emitted: list[Any] = []

    def unit_of_work() -> AbstractRichmenuUnitOfWork:
        uow = MemoryRichmenuUnitOfWork(store)
        uow.emitted = emitted
        return uow

    return World(line, segments, clock, store, MessageBus(unit_of_work, handlers(ports)), emitted)

