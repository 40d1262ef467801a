"""What segment-service is asked to do. Imperative."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityline_common.messagebus import Command


@dataclass(frozen=True)
class FollowResident(Command[None]):
    """A LINE user added the account as a friend (or unblocked it)."""

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
