"""What the sign-in and account use cases answer. Plain Python."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from admin_ui.domain.accounts import StaffMember
from admin_ui.domain.sessions import StaffSession


class SignInOutcome(enum.Enum):
    SECOND_FACTOR = "second_factor"  # go to 二要素認証
    ENROL = "enrol"  # go to 二要素認証の設定
    SIGNED_IN = "signed_in"
    FAILED = "failed"  # wrong id or password, or a disabled account: one message for all
    LOCKED = "locked"  # too many failures: wait ``retry_after`` seconds
    RESTART = "restart"  # the half-finished sign-in is gone (expired, or unknown): start again


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    token: str | None = field(default=None, repr=False)
    retry_after: int = 0


@dataclass(frozen=True)
class SecondFactorResult:
    outcome: SignInOutcome  # SIGNED_IN, FAILED, LOCKED
    token: str | None = field(default=None, repr=False)
    retry_after: int = 0
    recovery_codes_left: int | None = None  # set when a recovery code was used


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str = field(repr=False)
    uri: str = field(repr=False)
    login_id: str


@dataclass(frozen=True)
class EnrolmentResult:
    outcome: SignInOutcome  # SIGNED_IN, FAILED, LOCKED
    token: str | None = field(default=None, repr=False)
    recovery_codes: tuple[str, ...] = field(default=(), repr=False)  # shown once
    retry_after: int = 0


@dataclass(frozen=True)
class Authenticated:
    member: StaffMember
    session: StaffSession


@dataclass(frozen=True)
class CreatedStaff:
    staff_id: str
    login_id: str
    temporary_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SweepResult:
    """One housekeeping pass: sessions ended by timeout, throttles forgotten."""

    sessions_ended: int
    throttles_forgotten: int
