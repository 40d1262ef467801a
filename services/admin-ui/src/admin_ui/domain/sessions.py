"""Server-side staff sessions: what the cookie's token stands for, and when it ends. Plain Python."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta


class SessionStage(enum.Enum):
    SECOND_FACTOR = "second_factor"  # password accepted; a TOTP or recovery code is next
    ENROL = "enrol"  # password accepted; no second factor yet, so setting one up is next
    ACTIVE = "active"  # signed in


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    pending: timedelta = timedelta(minutes=10)  # a half-finished sign-in
    touch_every: timedelta = timedelta(seconds=30)  # last_seen writes at most this often


@dataclass
class StaffSession:
    id: uuid.UUID  # what screens and forms name a session by ("end this one")
    token_hash: str  # SHA-256 of the cookie's token; the token itself is never stored
    staff_id: uuid.UUID
    stage: SessionStage
    signed_in_at: datetime  # the password step; the absolute timeout counts from here
    created_at: datetime  # this token's issue (rotation makes a new one)
    last_seen_at: datetime
    address: str
    user_agent: str

    def expired(self, now: datetime, policy: SessionPolicy) -> bool:
        if self.stage is not SessionStage.ACTIVE:
            return now - self.signed_in_at >= policy.pending or now - self.last_seen_at >= policy.idle
        return now - self.signed_in_at >= policy.absolute or now - self.last_seen_at >= policy.idle

    def needs_touch(self, now: datetime, policy: SessionPolicy) -> bool:
        return now - self.last_seen_at >= policy.touch_every
