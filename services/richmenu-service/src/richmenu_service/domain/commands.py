"""What richmenu-service is asked to do. Imperative. Commands carry who asks (:class:`Actor` for staff, or the
name of a system) but no time: handlers read their clock."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityline_common.messagebus import Command

ADMIN, APPROVER, AUTHOR = "admin", "approver", "author"


@dataclass(frozen=True)
class Actor:
    """A member of staff (``roles``: (role, department) pairs, department None = city-wide), or a system
    (``system`` set, no roles: what it may do is decided by the entrypoint that let it in)."""

    staff_id: str
    roles: frozenset[tuple[str, str | None]] = frozenset()
    system: str | None = None

    @property
    def name(self) -> str:
        return f"system:{self.system}" if self.system else f"staff:{self.staff_id}"

    def holds(self, role: str, department: str | None) -> bool:
        return (role, department) in self.roles or (role, None) in self.roles

    @property
    def is_admin(self) -> bool:
        return (ADMIN, None) in self.roles

    def may_edit(self, department: str) -> bool:
        return self.is_admin or self.holds(AUTHOR, department)

    def may_publish(self, department: str) -> bool:
        return self.is_admin or self.holds(APPROVER, department)

    @property
    def may_switch_disaster(self) -> bool:
        return self.system is not None or self.is_admin or any(role == APPROVER for role, _ in self.roles)


@dataclass(frozen=True)
class CreateMenu(Command[uuid.UUID]):
    actor: Actor
    title: str
    department: str
    tabs: Any  # the console's JSON


@dataclass(frozen=True)
class EditMenu(Command[None]):
    actor: Actor
    menu_id: uuid.UUID
    version: int | None
    title: str
    tabs: Any


@dataclass(frozen=True)
class DeleteMenu(Command[None]):
    actor: Actor
    menu_id: uuid.UUID


@dataclass(frozen=True)
class UploadTabImage(Command[None]):
    actor: Actor
    menu_id: uuid.UUID
    tab: int  # 1-based
    data: bytes


@dataclass(frozen=True)
class DesignTab(Command[None]):
    actor: Actor
    menu_id: uuid.UUID
    tab: int  # 1-based
    design: Any  # デザインデータ JSON
    actions: Any  # one action per button


@dataclass(frozen=True)
class PublishMenu(Command[str]):
    """Returns "published" or "queued" (LINE's create limit reached: the worker retries)."""

    actor: Actor
    menu_id: uuid.UUID
    version: int | None


@dataclass(frozen=True)
class RetryPublications(Command[int]):
    """Publish again what LINE's create limit held back (the worker, every few seconds)."""


@dataclass(frozen=True)
class SaveRule(Command[uuid.UUID]):
    actor: Actor
    rule_id: uuid.UUID | None  # None: a new rule
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class DeleteRule(Command[None]):
    actor: Actor
    rule_id: uuid.UUID


@dataclass(frozen=True)
class SwitchDisasterMode(Command[bool]):
    """Returns whether anything changed (switching to the state it is in does nothing)."""

    actor: Actor
    on: bool
    via: str  # console | broker | cli
    menu_id: uuid.UUID | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RelinkResident(Command[str]):
    """A resident followed or changed their 受信設定: link the menu the rules give them now. Returns what was
    done: linked | unlinked | unchanged | unknown."""

    resident_id: uuid.UUID
    cause: str  # followed | preferences


@dataclass(frozen=True)
class ApplyRules(Command[uuid.UUID | None]):
    """Bring LINE in line with the rules at this moment for everyone (the worker): the pending change first,
    else a period boundary passed or rules/publications changed since last applied. Returns the change
    carried out, if any."""

    requested_by: str = "worker"


@dataclass(frozen=True)
class Reconcile(Command[dict[str, Any]]):
    """Repair what was changed on LINE behind our back (menus deleted or edited, aliases, the default)."""


@dataclass(frozen=True)
class PreviewFor:
    """Not a command: what a preview asks (a moment and either segments or a real resident)."""

    at: datetime
    segment_ids: Sequence[str] | None = None
    resident_id: uuid.UUID | None = None
