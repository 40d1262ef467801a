"""What segment-service is asked to do. Imperative."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from cityline_common.messagebus import Command

from segment_service.domain.model import FollowOutcome
from segment_service.domain.preferences import Answers, ChangeSource


@dataclass(frozen=True)
class FollowResident(Command[FollowOutcome]):
    """A LINE user added the account as a friend (or unblocked it). Answers what it changed."""

    line_user_id: str
    occurred_at_ms: int


@dataclass(frozen=True)
class UnfollowResident(Command[None]):
    """A LINE user blocked the account."""

    line_user_id: str
    occurred_at_ms: int


@dataclass(frozen=True)
class PublishTaxonomy(Command[tuple[int, bool]]):
    """Make this taxonomy document the current one (a new version unless nothing changed).
    Answers (version, created)."""

    document: dict[str, Any]
    # Keys that go: {"categories": {"old": "new"}} merges, {"districts": {"old": None}} retires
    # (service_layer/taxonomy_changes.py).
    mappings: dict[str, dict[str, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class SetAccountText(Command[None]):
    """Staff (システム管理者) change one of the city's texts to residents (the greetings)."""

    key: str
    text: str
    staff: str  # the staff id from the internal token, never a name


@dataclass(frozen=True)
class ChangePreferences(Command["PreferencesSaved"]):
    """A resident's 受信設定 from the chat, the LIFF page, an import or a staff correction.
    Answers :class:`PreferencesSaved`; raises ``UnknownResident`` or ``InvalidAnswers``."""

    resident_id: uuid.UUID
    answers: Answers
    source: ChangeSource


@dataclass(frozen=True)
class ChangePreferencesOfLineUser(Command["PreferencesSaved"]):
    """The same, for the chat and the LIFF page, which know the LINE user id (found by its blind index)."""

    line_user_id: str
    answers: Answers
    source: ChangeSource


@dataclass(frozen=True)
class PreferencesSaved:
    resident_id: uuid.UUID
    changed: bool  # False: the same answers as before (nothing stored, no event)
    first_answer: bool
    answers: Answers  # as stored: always-delivered categories added
    taxonomy_version: int


@dataclass(frozen=True)
class SaveSegment(Command["SavedSegmentRef"]):
    """Create (``segment_id`` None) or change a saved segment of a department. ``may_edit``: the
    departments the caller may edit segments of (None: every department, システム管理者)."""

    name: str
    department: str
    expression: dict[str, Any]
    staff_id: str
    may_edit: frozenset[str] | None
    segment_id: uuid.UUID | None = None


@dataclass(frozen=True)
class DeleteSegment(Command[bool]):
    segment_id: uuid.UUID
    may_edit: frozenset[str] | None


@dataclass(frozen=True)
class FreezeRecipients(Command["FrozenRecipients"]):
    """Freeze the members of a segment for a delivery, once per delivery id (a repeat answers the
    list made the first time). ``expression`` or ``segment_id``; ``unanswered``: auto|include|exclude."""

    delivery_id: str
    expression: dict[str, Any] | None = None
    segment_id: uuid.UUID | None = None
    unanswered: str = "auto"


@dataclass(frozen=True)
class SavedSegmentRef:
    id: uuid.UUID
    created: bool


@dataclass(frozen=True)
class FrozenRecipients:
    delivery_id: str
    members: int
    created: bool
