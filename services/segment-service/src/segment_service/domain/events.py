"""What happened to residents. Past tense; these leave the service through the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cityline_common.messagebus import Event


@dataclass(frozen=True)
class ResidentFollowed(Event):
    resident_id: uuid.UUID
    line_user_id: str
    occurred_at_ms: int
    refollowed: bool  # they had blocked us before and came back


@dataclass(frozen=True)
class ResidentUnfollowed(Event):
    resident_id: uuid.UUID
    line_user_id: str
    occurred_at_ms: int


@dataclass(frozen=True)
class TaxonomyPublished(Event):
    version: int
    content_sha256: str
