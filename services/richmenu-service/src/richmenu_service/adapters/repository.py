"""Storage of richmenu-service: the ports its handlers see, and their PostgreSQL adapters (SQLAlchemy Core)."""

from __future__ import annotations

import abc
import hashlib
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cityline_common.crypto import FieldCipher
from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from richmenu_service.adapters.orm import (
    RESIDENT_LINE_USER_ID,
    batch_requests,
    changes,
    line_menus,
    line_state,
    menus,
    publications,
    resident_links,
    rules,
    tab_images,
)

# One lock key for "residents' links are being changed": a mass change holds it exclusively, a single
# resident's relink shares it (so a relink never interleaves with a mass change's plan).
LINKS_LOCK = 0x52_4D_4C_4B  # "RMLK"
RESIDENT_LOCK_SPACE = 0x52_4D_52_53  # "RMRS": per-resident locks, hashtext(resident id) within it
COPY_ABOVE = 200  # more residents than this at once (a mass change) are written with COPY


def _copy_value(value: object) -> str:
    return "\\N" if value is None else str(value)


@dataclass
class StoredMenu:
    id: uuid.UUID
    title: str
    department: str
    version: int
    tabs: list[dict[str, Any]]  # the console's Tab JSON, each maybe with "design"
    created_by: str
    updated_by: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    format: str  # png | jpeg
    sha256: str
    source: str  # upload | template

    @property
    def content_type(self) -> str:
        return f"image/{self.format}"


@dataclass
class Publication:
    menu_id: uuid.UUID
    version: int
    status: str  # published | pending
    tabs: list[dict[str, str]]  # [{"aliasId", "richMenuId", "sha256"}]
    published_by: str
    published_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    error: str = ""

    @property
    def first_rich_menu_id(self) -> str | None:
        return self.tabs[0]["richMenuId"] if self.tabs else None


@dataclass(frozen=True)
class LineMenu:
    rich_menu_id: str
    menu_id: uuid.UUID
    version: int
    alias_id: str
    request: dict[str, Any]
    image: StoredImage
    retired_at: datetime | None = None


@dataclass
class StoredRule:
    id: uuid.UUID
    kind: str  # default | segment | period | disaster
    menu_id: uuid.UUID
    created_by: str
    updated_by: str
    segment_id: uuid.UUID | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    priority: int = 0
    enabled: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Link:
    resident_id: uuid.UUID
    rich_menu_id: str | None
    menu_id: uuid.UUID | None
    sealed: str  # the LINE user id sealed to the row: open with :meth:`AbstractLinks.line_user_id`


@dataclass
class Change:
    id: uuid.UUID
    reason: str
    status: str  # pending | running | done | failed
    requested_by: str
    residents: int = 0
    linked: int = 0
    unlinked: int = 0
    method: str = "none"
    error: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class LineState:
    default_rich_menu_id: str | None = None
    default_menu_id: uuid.UUID | None = None
    applied_at: datetime | None = None
    rules_digest: str = ""


# -- ports -----------------------------------------------------------------------------------------------------

class AbstractMenus(abc.ABC):
    @abc.abstractmethod
    def add(self, menu: StoredMenu) -> None: ...

    @abc.abstractmethod
    def get(self, menu_id: uuid.UUID, *, for_update: bool = False) -> StoredMenu | None: ...

    @abc.abstractmethod
    def update(self, menu: StoredMenu) -> None: ...

    @abc.abstractmethod
    def delete(self, menu_id: uuid.UUID) -> None: ...

    @abc.abstractmethod
    def all(self) -> list[StoredMenu]: ...

    @abc.abstractmethod
    def images(self, menu_id: uuid.UUID) -> dict[str, StoredImage]: ...

    @abc.abstractmethod
    def set_image(self, menu_id: uuid.UUID, alias_id: str, image: StoredImage) -> None: ...

    @abc.abstractmethod
    def keep_images(self, menu_id: uuid.UUID, alias_ids: Iterable[str]) -> None:
        """Forget the images of tabs no longer in the menu."""

    @abc.abstractmethod
    def publication(self, menu_id: uuid.UUID) -> Publication | None: ...

    @abc.abstractmethod
    def publications(self) -> list[Publication]: ...

    @abc.abstractmethod
    def save_publication(self, publication: Publication) -> None: ...

    @abc.abstractmethod
    def record_line_menu(self, line_menu: LineMenu) -> None: ...

    @abc.abstractmethod
    def line_menus(self) -> list[LineMenu]: ...

    @abc.abstractmethod
    def retire_line_menus(self, rich_menu_ids: Iterable[str], at: datetime) -> None: ...

    @abc.abstractmethod
    def forget_line_menu(self, rich_menu_id: str) -> None: ...


class AbstractRules(abc.ABC):
    @abc.abstractmethod
    def all(self) -> list[StoredRule]: ...

    @abc.abstractmethod
    def get(self, rule_id: uuid.UUID) -> StoredRule | None: ...

    @abc.abstractmethod
    def add(self, rule: StoredRule) -> None: ...

    @abc.abstractmethod
    def update(self, rule: StoredRule) -> None: ...

    @abc.abstractmethod
    def delete(self, rule_id: uuid.UUID) -> None: ...


class AbstractLinks(abc.ABC):
    @abc.abstractmethod
    def lock(self, *, exclusive: bool) -> None:
        """See :data:`LINKS_LOCK`. Shared: until the end of the transaction. Exclusive: held across commits
        (a mass change commits its progress) until :meth:`unlock` or the connection ends."""

    @abc.abstractmethod
    def unlock(self) -> None: ...

    @abc.abstractmethod
    def lock_resident(self, resident_id: uuid.UUID) -> None:
        """Until the end of the transaction: two relinks of one resident run one after the other."""

    @abc.abstractmethod
    def get(self, resident_id: uuid.UUID) -> Link | None: ...

    @abc.abstractmethod
    def set(self, entries: Sequence[tuple[uuid.UUID, str, str | None, uuid.UUID | None]]) -> None:
        """(resident id, LINE user id, rich menu id or None, menu id or None) for each resident."""

    @abc.abstractmethod
    def relink(self, resident_ids: Sequence[uuid.UUID], rich_menu_id: str | None, menu_id: uuid.UUID | None) -> None:
        """Residents we keep already (their LINE user id stays as sealed) now linked to this menu (None: unlinked)."""

    @abc.abstractmethod
    def linked(self) -> list[Link]:
        """Everyone with a per-user link on LINE (as we made it)."""

    @abc.abstractmethod
    def known(self) -> list[Link]:
        """Everyone we ever linked, linked now or not (their LINE user ids are sealed here already)."""

    @abc.abstractmethod
    def unlink_everyone(self) -> int: ...

    @abc.abstractmethod
    def line_user_id(self, link: Link) -> str: ...

    @abc.abstractmethod
    def count_linked(self, rich_menu_ids: Iterable[str] | None = None) -> int: ...


class AbstractChanges(abc.ABC):
    @abc.abstractmethod
    def add(self, change: Change) -> None: ...

    @abc.abstractmethod
    def save(self, change: Change) -> None: ...

    @abc.abstractmethod
    def next_pending(self) -> Change | None: ...

    @abc.abstractmethod
    def recent(self, limit: int) -> list[Change]: ...

    @abc.abstractmethod
    def state(self, *, for_update: bool = False) -> LineState: ...

    @abc.abstractmethod
    def save_state(self, state: LineState) -> None: ...

    @abc.abstractmethod
    def batches_since(self, at: datetime) -> int: ...

    @abc.abstractmethod
    def add_batch(self, request_id: str, at: datetime) -> None: ...


# -- PostgreSQL ------------------------------------------------------------------------------------------------

def _menu(row: Any) -> StoredMenu:
    return StoredMenu(row.id, row.title, row.department, row.version, list(row.tabs), row.created_by,
                      row.updated_by, row.created_at, row.updated_at)


def _publication(row: Any) -> Publication:
    return Publication(row.menu_id, row.version, row.status, list(row.tabs), row.published_by, row.published_at,
                       row.attempts, row.next_attempt_at, row.error)


def _image(data: bytes, format: str, source: str) -> StoredImage:
    return StoredImage(data, format, hashlib.sha256(data).hexdigest(), source)


class SqlMenus(AbstractMenus):
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, menu: StoredMenu) -> None:
        self._c.execute(insert(menus).values(id=menu.id, title=menu.title, department=menu.department,
                                             version=menu.version, tabs=menu.tabs, created_by=menu.created_by,
                                             updated_by=menu.updated_by))

    def get(self, menu_id: uuid.UUID, *, for_update: bool = False) -> StoredMenu | None:
        query = select(menus).where(menus.c.id == menu_id)
        row = self._c.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _menu(row)

    def update(self, menu: StoredMenu) -> None:
        self._c.execute(update(menus).where(menus.c.id == menu.id).values(
            title=menu.title, version=menu.version, tabs=menu.tabs, updated_by=menu.updated_by,
            updated_at=func.now()))

    def delete(self, menu_id: uuid.UUID) -> None:
        self._c.execute(delete(menus).where(menus.c.id == menu_id))

    def all(self) -> list[StoredMenu]:
        return [_menu(row) for row in self._c.execute(select(menus).order_by(menus.c.updated_at.desc()))]

    def images(self, menu_id: uuid.UUID) -> dict[str, StoredImage]:
        rows = self._c.execute(select(tab_images).where(tab_images.c.menu_id == menu_id))
        return {row.alias_id: StoredImage(bytes(row.data), row.format, row.sha256, row.source) for row in rows}

    def set_image(self, menu_id: uuid.UUID, alias_id: str, image: StoredImage) -> None:
        values = {"data": image.data, "format": image.format, "sha256": image.sha256, "source": image.source}
        self._c.execute(pg_insert(tab_images).values(menu_id=menu_id, alias_id=alias_id, **values)
                        .on_conflict_do_update(index_elements=[tab_images.c.menu_id, tab_images.c.alias_id],
                                               set_=values))

    def keep_images(self, menu_id: uuid.UUID, alias_ids: Iterable[str]) -> None:
        self._c.execute(delete(tab_images).where(tab_images.c.menu_id == menu_id,
                                                 tab_images.c.alias_id.not_in(list(alias_ids))))

    def publication(self, menu_id: uuid.UUID) -> Publication | None:
        row = self._c.execute(select(publications).where(publications.c.menu_id == menu_id)).first()
        return None if row is None else _publication(row)

    def publications(self) -> list[Publication]:
        return [_publication(row) for row in self._c.execute(select(publications))]

    def save_publication(self, publication: Publication) -> None:
        values = {"version": publication.version, "status": publication.status, "tabs": publication.tabs,
                  "published_by": publication.published_by, "published_at": publication.published_at,
                  "attempts": publication.attempts, "next_attempt_at": publication.next_attempt_at,
                  "error": publication.error}
        self._c.execute(pg_insert(publications).values(menu_id=publication.menu_id, **values)
                        .on_conflict_do_update(index_elements=[publications.c.menu_id], set_=values))

    def record_line_menu(self, line_menu: LineMenu) -> None:
        self._c.execute(insert(line_menus).values(rich_menu_id=line_menu.rich_menu_id, menu_id=line_menu.menu_id,
                                                  version=line_menu.version, alias_id=line_menu.alias_id,
                                                  request=line_menu.request, image=line_menu.image.data,
                                                  image_format=line_menu.image.format,
                                                  retired_at=line_menu.retired_at))

    def line_menus(self) -> list[LineMenu]:
        return [LineMenu(row.rich_menu_id, row.menu_id, row.version, row.alias_id, dict(row.request),
                         _image(bytes(row.image), row.image_format, "published"), row.retired_at)
                for row in self._c.execute(select(line_menus).order_by(line_menus.c.created_at))]

    def retire_line_menus(self, rich_menu_ids: Iterable[str], at: datetime) -> None:
        self._c.execute(update(line_menus).where(line_menus.c.rich_menu_id.in_(list(rich_menu_ids)),
                                                 line_menus.c.retired_at.is_(None)).values(retired_at=at))

    def forget_line_menu(self, rich_menu_id: str) -> None:
        self._c.execute(delete(line_menus).where(line_menus.c.rich_menu_id == rich_menu_id))


def _rule(row: Any) -> StoredRule:
    return StoredRule(row.id, row.kind, row.menu_id, row.created_by, row.updated_by, row.segment_id, row.starts_at,
                      row.ends_at, row.priority, row.enabled, row.created_at, row.updated_at)


class SqlRules(AbstractRules):
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def all(self) -> list[StoredRule]:
        return [_rule(row) for row in self._c.execute(select(rules).order_by(rules.c.created_at, rules.c.id))]

    def get(self, rule_id: uuid.UUID) -> StoredRule | None:
        row = self._c.execute(select(rules).where(rules.c.id == rule_id)).first()
        return None if row is None else _rule(row)

    def _values(self, rule: StoredRule) -> dict[str, Any]:
        return {"kind": rule.kind, "menu_id": rule.menu_id, "segment_id": rule.segment_id,
                "starts_at": rule.starts_at, "ends_at": rule.ends_at, "priority": rule.priority,
                "enabled": rule.enabled, "updated_by": rule.updated_by}

    def add(self, rule: StoredRule) -> None:
        self._c.execute(insert(rules).values(id=rule.id, created_by=rule.created_by, **self._values(rule)))

    def update(self, rule: StoredRule) -> None:
        self._c.execute(update(rules).where(rules.c.id == rule.id).values(updated_at=func.now(),
                                                                          **self._values(rule)))

    def delete(self, rule_id: uuid.UUID) -> None:
        self._c.execute(delete(rules).where(rules.c.id == rule_id))


class SqlLinks(AbstractLinks):
    def __init__(self, connection: Connection, cipher: FieldCipher) -> None:
        self._c = connection
        self._cipher = cipher

    def lock(self, *, exclusive: bool) -> None:
        if exclusive:
            self._c.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LINKS_LOCK})
        else:
            self._c.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": LINKS_LOCK})

    def unlock(self) -> None:
        self._c.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LINKS_LOCK})

    def get(self, resident_id: uuid.UUID) -> Link | None:
        row = self._c.execute(select(resident_links).where(resident_links.c.resident_id == resident_id)).first()
        return None if row is None else Link(row.resident_id, row.rich_menu_id, row.menu_id, row.line_user_id_ct)

    def lock_resident(self, resident_id: uuid.UUID) -> None:
        # The two-key form: a key space of its own, apart from LINKS_LOCK's.
        self._c.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:resident))"),
                        {"space": RESIDENT_LOCK_SPACE, "resident": str(resident_id)})

    def set(self, entries: Sequence[tuple[uuid.UUID, str, str | None, uuid.UUID | None]]) -> None:
        seal = self._cipher.encrypt_for_row
        context = RESIDENT_LINE_USER_ID.context
        if len(entries) > COPY_ABOVE:  # a mass change: COPY, then one upsert from the staged rows
            staged = io.StringIO()
            for resident_id, line_user_id, rich_menu_id, menu_id in entries:
                staged.write(f"{resident_id}\t{seal(line_user_id, context, resident_id)}\t"
                             f"{_copy_value(rich_menu_id)}\t{_copy_value(menu_id)}\n")
            self._c.execute(text("CREATE TEMP TABLE IF NOT EXISTS richmenu_links_in (resident_id uuid, "
                                 "line_user_id_ct text, rich_menu_id text, menu_id uuid) ON COMMIT DELETE ROWS"))
            self._copy("COPY richmenu_links_in FROM STDIN", staged)
            self._c.execute(text(
                "INSERT INTO richmenu.resident_links (resident_id, line_user_id_ct, rich_menu_id, menu_id) "
                "SELECT resident_id, line_user_id_ct, rich_menu_id, menu_id FROM richmenu_links_in "
                "ON CONFLICT (resident_id) DO UPDATE SET line_user_id_ct = excluded.line_user_id_ct, "
                "rich_menu_id = excluded.rich_menu_id, menu_id = excluded.menu_id, updated_at = now()"))
            self._c.execute(text("DELETE FROM richmenu_links_in"))
            return
        for resident_id, line_user_id, rich_menu_id, menu_id in entries:
            values = {"line_user_id_ct": seal(line_user_id, context, resident_id), "rich_menu_id": rich_menu_id,
                      "menu_id": menu_id}
            self._c.execute(pg_insert(resident_links).values(resident_id=resident_id, **values)
                            .on_conflict_do_update(index_elements=[resident_links.c.resident_id],
                                                   set_={**values, "updated_at": func.now()}))

    def relink(self, resident_ids: Sequence[uuid.UUID], rich_menu_id: str | None, menu_id: uuid.UUID | None) -> None:
        if len(resident_ids) <= COPY_ABOVE:
            if resident_ids:
                self._c.execute(update(resident_links).where(resident_links.c.resident_id.in_(list(resident_ids)))
                                .values(rich_menu_id=rich_menu_id, menu_id=menu_id, updated_at=func.now()))
            return
        self._c.execute(text("CREATE TEMP TABLE IF NOT EXISTS richmenu_ids_in (resident_id uuid) "
                             "ON COMMIT DELETE ROWS"))
        self._copy("COPY richmenu_ids_in FROM STDIN", io.StringIO("".join(f"{r}\n" for r in resident_ids)))
        self._c.execute(text("UPDATE richmenu.resident_links AS l SET rich_menu_id = :rich, menu_id = :menu, "
                             "updated_at = now() FROM richmenu_ids_in AS i WHERE l.resident_id = i.resident_id"),
                        {"rich": rich_menu_id, "menu": menu_id})
        self._c.execute(text("DELETE FROM richmenu_ids_in"))

    def _copy(self, statement: str, rows: io.StringIO) -> None:
        """COPY through psycopg2 on this transaction's connection (SQLAlchemy has no COPY of its own)."""
        rows.seek(0)
        cursor = self._c.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.copy_expert(statement, rows)
        finally:
            cursor.close()

    def known(self) -> list[Link]:
        rows = self._c.execute(select(resident_links.c.resident_id, resident_links.c.rich_menu_id,
                                      resident_links.c.menu_id, resident_links.c.line_user_id_ct))
        return [Link(*row) for row in rows]

    def linked(self) -> list[Link]:
        rows = self._c.execute(select(resident_links.c.resident_id, resident_links.c.rich_menu_id,
                                      resident_links.c.menu_id, resident_links.c.line_user_id_ct)
                               .where(resident_links.c.rich_menu_id.is_not(None)))
        return [Link(*row) for row in rows]

    def unlink_everyone(self) -> int:
        return int(self._c.execute(update(resident_links).where(resident_links.c.rich_menu_id.is_not(None))
                                   .values(rich_menu_id=None, menu_id=None, updated_at=func.now())).rowcount)

    def line_user_id(self, link: Link) -> str:
        return self._cipher.decrypt_for_row(link.sealed, RESIDENT_LINE_USER_ID.context, link.resident_id)

    def count_linked(self, rich_menu_ids: Iterable[str] | None = None) -> int:
        query = select(func.count()).select_from(resident_links).where(resident_links.c.rich_menu_id.is_not(None))
        if rich_menu_ids is not None:
            query = query.where(resident_links.c.rich_menu_id.in_(list(rich_menu_ids)))
        return int(self._c.execute(query).scalar_one())


def _change(row: Any) -> Change:
    return Change(row.id, row.reason, row.status, row.requested_by, row.residents, row.linked, row.unlinked,
                  row.method, row.error, row.created_at, row.started_at, row.finished_at)


class SqlChanges(AbstractChanges):
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, change: Change) -> None:
        self._c.execute(insert(changes).values(id=change.id, reason=change.reason, status=change.status,
                                               requested_by=change.requested_by))

    def save(self, change: Change) -> None:
        self._c.execute(update(changes).where(changes.c.id == change.id).values(
            status=change.status, residents=change.residents, linked=change.linked, unlinked=change.unlinked,
            method=change.method, error=change.error, started_at=change.started_at,
            finished_at=change.finished_at))

    def next_pending(self) -> Change | None:
        row = self._c.execute(select(changes).where(changes.c.status.in_(("pending", "running")))
                              .order_by(changes.c.created_at).limit(1)).first()
        return None if row is None else _change(row)

    def recent(self, limit: int) -> list[Change]:
        return [_change(row) for row in
                self._c.execute(select(changes).order_by(changes.c.created_at.desc()).limit(limit))]

    def state(self, *, for_update: bool = False) -> LineState:
        self._c.execute(pg_insert(line_state).values(id=1).on_conflict_do_nothing(index_elements=[line_state.c.id]))
        query = select(line_state).where(line_state.c.id == 1)
        row = self._c.execute(query.with_for_update() if for_update else query).one()
        return LineState(row.default_rich_menu_id, row.default_menu_id, row.applied_at, row.rules_digest)

    def save_state(self, state: LineState) -> None:
        self._c.execute(update(line_state).where(line_state.c.id == 1).values(
            default_rich_menu_id=state.default_rich_menu_id, default_menu_id=state.default_menu_id,
            applied_at=state.applied_at, rules_digest=state.rules_digest))

    def batches_since(self, at: datetime) -> int:
        return int(self._c.execute(select(func.count()).select_from(batch_requests)
                                   .where(batch_requests.c.requested_at > at)).scalar_one())

    def add_batch(self, request_id: str, at: datetime) -> None:
        self._c.execute(insert(batch_requests).values(request_id=request_id or str(uuid.uuid4()), requested_at=at))


# -- in memory (handler tests) ---------------------------------------------------------------------------------

@dataclass
class MemoryStore:
    """What the in-memory repositories share, so one test sees the same data through every unit of work."""

    menus: dict[uuid.UUID, StoredMenu] = field(default_factory=dict)
    images: dict[tuple[uuid.UUID, str], StoredImage] = field(default_factory=dict)
    publications: dict[uuid.UUID, Publication] = field(default_factory=dict)
    line_menus: dict[str, LineMenu] = field(default_factory=dict)
    rules: dict[uuid.UUID, StoredRule] = field(default_factory=dict)
    links: dict[uuid.UUID, tuple[str, str | None, uuid.UUID | None]] = field(default_factory=dict)
    changes: dict[uuid.UUID, Change] = field(default_factory=dict)
    state: LineState = field(default_factory=LineState)
    batches: list[datetime] = field(default_factory=list)


class MemoryMenus(AbstractMenus):
    def __init__(self, store: MemoryStore) -> None:
        self._s = store

    def add(self, menu: StoredMenu) -> None:
        self._s.menus[menu.id] = replace(menu)

    def get(self, menu_id: uuid.UUID, *, for_update: bool = False) -> StoredMenu | None:
        found = self._s.menus.get(menu_id)
        return None if found is None else replace(found, tabs=[dict(t) for t in found.tabs])

    def update(self, menu: StoredMenu) -> None:
        self._s.menus[menu.id] = replace(menu)

    def delete(self, menu_id: uuid.UUID) -> None:
        self._s.menus.pop(menu_id, None)
        self._s.publications.pop(menu_id, None)
        for key in [k for k in self._s.images if k[0] == menu_id]:
            del self._s.images[key]

    def all(self) -> list[StoredMenu]:
        return list(reversed(self._s.menus.values()))

    def images(self, menu_id: uuid.UUID) -> dict[str, StoredImage]:
        return {alias: image for (owner, alias), image in self._s.images.items() if owner == menu_id}

    def set_image(self, menu_id: uuid.UUID, alias_id: str, image: StoredImage) -> None:
        self._s.images[(menu_id, alias_id)] = image

    def keep_images(self, menu_id: uuid.UUID, alias_ids: Iterable[str]) -> None:
        keep = set(alias_ids)
        for key in [k for k in self._s.images if k[0] == menu_id and k[1] not in keep]:
            del self._s.images[key]

    def publication(self, menu_id: uuid.UUID) -> Publication | None:
        found = self._s.publications.get(menu_id)
        return None if found is None else replace(found)

    def publications(self) -> list[Publication]:
        return [replace(p) for p in self._s.publications.values()]

    def save_publication(self, publication: Publication) -> None:
        self._s.publications[publication.menu_id] = replace(publication)

    def record_line_menu(self, line_menu: LineMenu) -> None:
        self._s.line_menus[line_menu.rich_menu_id] = line_menu

    def line_menus(self) -> list[LineMenu]:
        return list(self._s.line_menus.values())

    def retire_line_menus(self, rich_menu_ids: Iterable[str], at: datetime) -> None:
        for rich_menu_id in rich_menu_ids:
            found = self._s.line_menus.get(rich_menu_id)
            if found is not None and found.retired_at is None:
                self._s.line_menus[rich_menu_id] = replace(found, retired_at=at)

    def forget_line_menu(self, rich_menu_id: str) -> None:
        self._s.line_menus.pop(rich_menu_id, None)


class MemoryRules(AbstractRules):
    def __init__(self, store: MemoryStore) -> None:
        self._s = store

    def all(self) -> list[StoredRule]:
        return [replace(r) for r in self._s.rules.values()]

    def get(self, rule_id: uuid.UUID) -> StoredRule | None:
        found = self._s.rules.get(rule_id)
        return None if found is None else replace(found)

    def add(self, rule: StoredRule) -> None:
        self._s.rules[rule.id] = replace(rule)

    def update(self, rule: StoredRule) -> None:
        self._s.rules[rule.id] = replace(rule)

    def delete(self, rule_id: uuid.UUID) -> None:
        self._s.rules.pop(rule_id, None)


class MemoryLinks(AbstractLinks):
    """LINE user ids kept in clear: a test fake, never a store of personal data."""

    def __init__(self, store: MemoryStore) -> None:
        self._s = store

    def lock(self, *, exclusive: bool) -> None:
        pass

    def unlock(self) -> None:
        pass

    def lock_resident(self, resident_id: uuid.UUID) -> None:
        pass

    def relink(self, resident_ids: Sequence[uuid.UUID], rich_menu_id: str | None, menu_id: uuid.UUID | None) -> None:
        for resident_id in resident_ids:
            self._s.links[resident_id] = (self._s.links[resident_id][0], rich_menu_id, menu_id)

    def known(self) -> list[Link]:
        return [Link(r, rich, menu, user) for r, (user, rich, menu) in self._s.links.items()]

    def get(self, resident_id: uuid.UUID) -> Link | None:
        found = self._s.links.get(resident_id)
        return None if found is None else Link(resident_id, found[1], found[2], found[0])

    def set(self, entries: Sequence[tuple[uuid.UUID, str, str | None, uuid.UUID | None]]) -> None:
        for resident_id, line_user_id, rich_menu_id, menu_id in entries:
            self._s.links[resident_id] = (line_user_id, rich_menu_id, menu_id)

    def linked(self) -> list[Link]:
        return [Link(r, rich, menu, user) for r, (user, rich, menu) in self._s.links.items() if rich is not None]

    def unlink_everyone(self) -> int:
        linked = [r for r, entry in self._s.links.items() if entry[1] is not None]
        for resident_id in linked:
            self._s.links[resident_id] = (self._s.links[resident_id][0], None, None)
        return len(linked)

    def line_user_id(self, link: Link) -> str:
        return link.sealed

    def count_linked(self, rich_menu_ids: Iterable[str] | None = None) -> int:
        wanted = None if rich_menu_ids is None else set(rich_menu_ids)
        return sum(1 for _user, rich, _menu in self._s.links.values()
                   if rich is not None and (wanted is None or rich in wanted))


class MemoryChanges(AbstractChanges):
    def __init__(self, store: MemoryStore) -> None:
        self._s = store

    def add(self, change: Change) -> None:
        self._s.changes[change.id] = replace(change)

    def save(self, change: Change) -> None:
        self._s.changes[change.id] = replace(change)

    def next_pending(self) -> Change | None:
        return next((replace(c) for c in self._s.changes.values() if c.status in ("pending", "running")), None)

    def recent(self, limit: int) -> list[Change]:
        return [replace(c) for c in list(reversed(self._s.changes.values()))[:limit]]

    def state(self, *, for_update: bool = False) -> LineState:
        return replace(self._s.state)

    def save_state(self, state: LineState) -> None:
        self._s.state = replace(state)

    def batches_since(self, at: datetime) -> int:
        return sum(1 for moment in self._s.batches if moment > at)

    def add_batch(self, request_id: str, at: datetime) -> None:
        self._s.batches.append(at)
