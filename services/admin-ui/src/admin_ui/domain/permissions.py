"""Roles × departments (課) and what each role may do. Plain Python, no I/O.

A staff member holds grants: a role, in a department (課) — or, for システム管理者, everywhere. A
person may hold roles in several departments. Every route of the console declares the
:class:`Permission` it needs; :func:`allowed` is the one place that answers. Items that belong to a
department (segments, deliveries, rich menus, …) are visible and editable only within it:
:func:`departments_where` filters lists, :func:`check_department` guards a single item.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class Role(enum.Enum):
    ADMIN = "admin"  # システム管理者: everything, accounts; held without a department
    APPROVER = "approver"  # 承認者: approves their departments' items
    AUTHOR = "author"  # 作成者: drafts, submits for approval
    VIEWER = "viewer"  # 閲覧者: reads only

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {Role.ADMIN: "システム管理者", Role.APPROVER: "承認者", Role.AUTHOR: "作成者", Role.VIEWER: "閲覧者"}


class Permission(enum.Enum):
    # Global: not about one department's items.
    SIGNED_IN = "signed_in"  # one's own password, second factor, sessions
    VIEW_STATUS = "view_status"  # システム状態
    VIEW_DASHBOARD = "view_dashboard"  # ダッシュボード (friends, blocks)
    MANAGE_ACCOUNTS = "manage_accounts"  # 職員アカウント: create, disable, reset, roles
    VIEW_AUDIT_LOG = "view_audit_log"  # 操作ログ
    MANAGE_SETTINGS = "manage_settings"  # 受信設定の項目 and the greetings: the whole city's, システム管理者 only
    # Department-scoped: about items that belong to a department.
    VIEW_ITEMS = "view_items"
    EDIT_ITEMS = "edit_items"  # draft, change, submit for approval
    APPROVE_ITEMS = "approve_items"

    @property
    def department_scoped(self) -> bool:
        return self in _DEPARTMENT_SCOPED


_DEPARTMENT_SCOPED = frozenset({Permission.VIEW_ITEMS, Permission.EDIT_ITEMS, Permission.APPROVE_ITEMS})
_EVERY_ROLE = frozenset({
    Permission.SIGNED_IN, Permission.VIEW_STATUS, Permission.VIEW_DASHBOARD, Permission.VIEW_ITEMS,
})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.APPROVER: _EVERY_ROLE | {Permission.APPROVE_ITEMS},
    Role.AUTHOR: _EVERY_ROLE | {Permission.EDIT_ITEMS},
    Role.VIEWER: _EVERY_ROLE,
}


@dataclass(frozen=True)
class Grant:
    """A role held in one department, or everywhere (``department`` None: only システム管理者)."""

    role: Role
    department: str | None = None

    def __post_init__(self) -> None:
        if (self.role is Role.ADMIN) != (self.department is None):
            raise ValueError("システム管理者 is held without a department; every other role within one")

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.department or "", self.role.value)


class Principal(Protocol):
    """Whatever holds grants: a signed-in staff member (and later a token's claims)."""

    @property
    def grants(self) -> frozenset[Grant]: ...

    @property
    def active(self) -> bool: ...


ALL_DEPARTMENTS = None  # what departments_where answers for a システム管理者


def _roles_in(grants: Iterable[Grant], department: str | None) -> set[Role]:
    return {grant.role for grant in grants if grant.department is None or grant.department == department}


def allowed(member: Principal, permission: Permission, department: str | None = None) -> bool:
    """May ``member`` do ``permission``, on an item of ``department``?

    For a department-scoped permission, ``department`` None means "in at least one department"
    (whether to show a menu entry or a list at all); a global permission ignores ``department``."""
    if not member.active:
        return False
    if any(grant.role is Role.ADMIN for grant in member.grants):
        return True
    if not permission.department_scoped or department is None:
        return any(permission in ROLE_PERMISSIONS[grant.role] for grant in member.grants)
    return any(permission in ROLE_PERMISSIONS[role] for role in _roles_in(member.grants, department))


def departments_where(member: Principal, permission: Permission) -> frozenset[str] | None:
    """The departments whose items ``member`` may ``permission``; None: every department (admin)."""
    if not member.active:
        return frozenset()
    if any(grant.role is Role.ADMIN for grant in member.grants):
        return ALL_DEPARTMENTS
    return frozenset(
        grant.department for grant in member.grants
        if grant.department is not None and permission in ROLE_PERMISSIONS[grant.role]
    )


class NotAllowed(Exception):
    """The staff member may not do this (the console answers 403)."""


class DepartmentForbidden(NotAllowed):
    """The item belongs to a department the staff member may not act in."""


def check_department(member: Principal, permission: Permission, department: str) -> None:
    """Guard for one item of ``department``; raises :class:`DepartmentForbidden`. Feature handlers call
    this for every item they read or change, so the rule holds whatever screen asked."""
    if not permission.department_scoped:
        raise ValueError(f"{permission.name} is not about a department's items")
    if not allowed(member, permission, department):
        raise DepartmentForbidden(f"{permission.value} in {department}")
