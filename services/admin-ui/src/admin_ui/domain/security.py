"""Sign-in defences as plain rules: lockout with backoff, TOTP codes, recovery codes, session tokens.

No I/O: the clock is passed in, randomness comes from :mod:`secrets`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pyotp


class PasswordHasher(Protocol):
    """argon2id in production (``adapters/passwords.py``); the port keeps handlers free of it."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...

    @property
    def dummy_hash(self) -> str:
        """A hash to verify against when the login id is unknown: the answer takes as long."""


# --- lockout with backoff -------------------------------------------------------------------------


class ThrottleScope(enum.Enum):
    ACCOUNT = "account"  # keyed by the login id typed (also for ids that do not exist: no tell)
    ADDRESS = "address"  # keyed by the client address


@dataclass(frozen=True)
class BackoffPolicy:
    """After ``threshold`` failures, locked for ``base`` doubling with every further failure up to
    ``cap``. Failures are forgotten ``forget_after`` the last one."""

    threshold: int
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)

    def lock_for(self, failures: int) -> timedelta | None:
        if failures < self.threshold:
            return None
        doublings = min(failures - self.threshold, 20)
        return min(self.base * (1 << doublings), self.cap)


ACCOUNT_POLICY = BackoffPolicy(threshold=5)
ADDRESS_POLICY = BackoffPolicy(threshold=20)
# A throttle whose last failure is older than this counts from zero again: housekeeping deletes it.
FORGET_AFTER = max(ACCOUNT_POLICY.forget_after, ADDRESS_POLICY.forget_after)


@dataclass
class Throttle:
    scope: ThrottleScope
    key: str
    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lock ends (0 when not locked)."""
        if not self.locked(now) or self.locked_until is None:
            return 0
        return max(1, int((self.locked_until - now).total_seconds() + 0.999))

    def fail(self, now: datetime, policy: BackoffPolicy) -> bool:
        """Count a failure; True when this failure (re)starts a lock."""
        if self.last_failure_at is not None and now - self.last_failure_at > policy.forget_after:
            self.failures = 0
        self.failures += 1
        self.last_failure_at = now
        lock = policy.lock_for(self.failures)
        if lock is None:
            return False
        self.locked_until = now + lock
        return True

    def clear(self) -> None:
        self.failures, self.last_failure_at, self.locked_until = 0, None, None


# --- TOTP (RFC 6238: SHA-1, 6 digits, 30 s, as every authenticator app and oathtool expect) ------------

TOTP_ISSUER = "伊丹市公式LINE 管理画面"
TOTP_STEP = 30


def new_totp_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits


def totp_uri(secret: str, login_id: str, issuer: str = TOTP_ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=login_id, issuer_name=issuer)


def totp_code(secret: str, now: datetime) -> str:
    return pyotp.TOTP(secret).at(now)


def match_totp(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side for clock drift), or None.

    A step at or before ``last_step`` is refused: each code works once."""
    code = "".join(ch for ch in unicodedata.normalize("NFKC", code) if not ch.isspace())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (last_step is None or step > last_step):
            return step
    return None


# --- recovery codes ------------------------------------------------------------------------------------

RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Codes like ``k7mq-x2pd-9hra`` (about 59 bits each): shown once, stored only as hashes."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def recovery_code_hash(code: str) -> str:
    """SHA-256 of the normalised code: the codes are long and random, so no slow hash is needed."""
    normalised = "".join(ch for ch in unicodedata.normalize("NFKC", code).lower() if ch.isalnum())
    return hashlib.sha256(f"admin-ui recovery:{normalised}".encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    normalised = "".join(ch for ch in unicodedata.normalize("NFKC", code).lower() if ch.isalnum())
    return len(normalised) == 12


# --- session tokens -------------------------------------------------------------------------------------


def new_session_token() -> str:
    """256 random bits for the cookie; only :func:`token_hash` is stored."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_temporary_password() -> str:
    """A password an administrator hands over once (reset); the member must change it at sign-in."""
    return "-".join(
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(4)
    )
