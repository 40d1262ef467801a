"""Staff accounts and departments (課), and the password rule. Plain Python, no I/O.

The password rule follows NIST SP 800-63B rather than composition rules: at least 12 and at most 128
characters (after Unicode NFKC normalisation, so full-width and half-width input agree), not one of
the common passwords shipped with the package (``common_passwords.txt``), and not containing the
login id. Any characters are allowed, Japanese included.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files

from admin_ui.domain.permissions import Grant, Role

PASSWORD_MIN = 12
PASSWORD_MAX = 128
_LOGIN_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_DEPARTMENT_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")


class AccountError(ValueError):
    """Input that does not describe a valid account change; the message is for the person at the screen."""


@dataclass(frozen=True)
class Department:
    """課: a short code (URLs, grants) and its name as staff read it."""

    code: str
    name: str

    def __post_init__(self) -> None:
        if not _DEPARTMENT_CODE.match(self.code):
            raise AccountError("課のコードは半角英小文字・数字・-・_ の2〜32文字です")
        if not self.name.strip() or len(self.name) > 100:
            raise AccountError("課の名前は1〜100文字です")


@dataclass
class TotpFactor:
    """The TOTP secret (base32, kept encrypted at rest); ``confirmed`` once a first code matched."""

    secret: str
    confirmed: bool = False
    last_step: int | None = None  # the last time step accepted: a code is never accepted twice


@dataclass
class StaffMember:
    id: uuid.UUID
    login_id: str
    display_name: str
    password_hash: str
    grants: frozenset[Grant] = frozenset()
    disabled: bool = False
    must_change_password: bool = False
    totp: TotpFactor | None = None
    recovery_codes: dict[str, datetime | None] = field(default_factory=dict)  # sha256 → used at
    created_at: datetime | None = None

    @property
    def active(self) -> bool:
        return not self.disabled

    @property
    def has_second_factor(self) -> bool:
        return self.totp is not None and self.totp.confirmed

    @property
    def is_admin(self) -> bool:
        return any(grant.role is Role.ADMIN for grant in self.grants)

    def departments(self) -> frozenset[str]:
        return frozenset(grant.department for grant in self.grants if grant.department is not None)


def normalise_login_id(login_id: str) -> str:
    return unicodedata.normalize("NFKC", login_id).strip().lower()


def check_login_id(login_id: str) -> str:
    normalised = normalise_login_id(login_id)
    if not _LOGIN_ID.match(normalised):
        raise AccountError("ログインIDは半角英数字と . _ - の3〜64文字で、英数字で始めてください")
    return normalised


def check_display_name(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).strip()
    if not name or len(name) > 100 or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise AccountError("表示名は1〜100文字で入力してください")
    return name


def normalise_password(password: str) -> str:
    """What is hashed: NFKC, so the same password typed in full-width or half-width agrees."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    text = files("admin_ui.domain").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problems(password: str, login_id: str = "") -> list[str]:
    """Why ``password`` may not be used, in Japanese; empty when it may."""
    normalised = normalise_password(password)
    problems = []
    if len(normalised) < PASSWORD_MIN:
        problems.append(f"パスワードは{PASSWORD_MIN}文字以上にしてください")
    if len(normalised) > PASSWORD_MAX:
        problems.append(f"パスワードは{PASSWORD_MAX}文字以下にしてください")
    lowered = normalised.lower()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        problems.append("よく使われていて推測されやすいパスワードです。別のものにしてください")
    if login_id and normalise_login_id(login_id) in lowered:
        problems.append("パスワードにログインIDを含めないでください")
    if normalised and len(set(normalised)) == 1:
        problems.append("同じ文字の繰り返しは使えません")
    return problems


def check_password(password: str, login_id: str = "") -> str:
    problems = password_problems(password, login_id)
    if problems:
        raise AccountError("。".join(problems))
    return normalise_password(password)
