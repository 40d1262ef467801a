"""Residents: LINE users who are, or were, friends of the city's account. Plain Python, no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from cityline_common.line_ids import is_line_user_id
from cityline_common.messagebus import Event

from segment_service.domain.events import ResidentFollowed, ResidentUnfollowed


class InvalidLineUserId(ValueError):
    pass


def validate_line_user_id(value: str) -> str:
    if not is_line_user_id(value):
        raise InvalidLineUserId("a LINE user id is 'U' followed by 32 lower-case hex digits")
    return value


class FollowOutcome(StrEnum):
    """What a follow event did: it decides the greeting (none for a follow that changed nothing)."""

    FIRST = "first"          # a new friend: the greeting
    REFOLLOWED = "refollowed"  # came back after blocking: the re-follow greeting (answers were kept)
    UNCHANGED = "unchanged"  # already a friend, or an older event: no greeting


class ResidentOrigin(StrEnum):
    FOLLOW = "follow"  # a follow event
    IMPORT = "import"  # a friend from before this system, found by `import-followers`


class ResidentStatus(StrEnum):
    FOLLOWING = "following"  # 友だち
    BLOCKED = "blocked"      # ブロック中


@dataclass(eq=False)  # identity: the repository tracks the instances it handed out
class Resident:
    id: uuid.UUID
    line_user_id: str
    status: ResidentStatus
    # Timestamp (ms) of the LINE event that last changed the status. LINE may deliver events out of
    # order, so an event older than this one cannot undo it.
    status_changed_at_ms: int
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def first_follow(cls, line_user_id: str, occurred_at_ms: int) -> Resident:
        resident = cls(
            id=uuid.uuid4(),
            line_user_id=validate_line_user_id(line_user_id),
            status=ResidentStatus.FOLLOWING,
            status_changed_at_ms=occurred_at_ms,
        )
        resident.events.append(ResidentFollowed(resident.id, line_user_id, occurred_at_ms, refollowed=False))
        return resident

    @classmethod
    def imported(cls, line_user_id: str) -> Resident:
        """A friend from before this system (LINE's follower ids): following since an unknown time, so
        any follow or block event that arrives later is newer and applies. No event: nobody followed."""
        return cls(id=uuid.uuid4(), line_user_id=validate_line_user_id(line_user_id),
                   status=ResidentStatus.FOLLOWING, status_changed_at_ms=0)

    def follow(self, occurred_at_ms: int) -> bool:
        """Whether the status changed (an older event, or a follow while following, changes nothing)."""
        if occurred_at_ms < self.status_changed_at_ms or self.status is ResidentStatus.FOLLOWING:
            return False
        self.status = ResidentStatus.FOLLOWING
        self.status_changed_at_ms = occurred_at_ms
        self.events.append(ResidentFollowed(self.id, self.line_user_id, occurred_at_ms, refollowed=True))
        return True

    def unfollow(self, occurred_at_ms: int) -> bool:
        """Whether the status changed."""
        if occurred_at_ms < self.status_changed_at_ms or self.status is ResidentStatus.BLOCKED:
            return False
        self.status = ResidentStatus.BLOCKED
        self.status_changed_at_ms = occurred_at_ms
        self.events.append(ResidentUnfollowed(self.id, self.line_user_id, occurred_at_ms))
        return True


def blocked_before_first_follow(line_user_id: str, occurred_at_ms: int) -> Resident:
    """An unfollow for someone we never saw follow (they followed before this system existed, or the
    events crossed). Remember the block so an older follow arriving later cannot revive them."""
    return Resident(
        id=uuid.uuid4(),
        line_user_id=validate_line_user_id(line_user_id),
        status=ResidentStatus.BLOCKED,
        status_changed_at_ms=occurred_at_ms,
    )
