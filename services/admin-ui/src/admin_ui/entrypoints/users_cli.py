"""``admin-ui-users``: staff accounts from the command line (operators with the database's credentials).

    admin-ui-users create-admin LOGIN --name "伊丹 太郎"   the first システム管理者 (prints the TOTP secret)
    admin-ui-users reset-password LOGIN                    a new password (asked for), sessions ended
    admin-ui-users reset-2fa LOGIN                         second factor removed: set up at next sign-in
    admin-ui-users seed-demo                               demo departments and one account per role

A password is asked for twice on a terminal, or read from the first line of stdin when piped.
Every change is written to the 操作ログ with the actor ``cli``.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import os
import sys

from cityline_common.web import bootstrap_from_environment

from admin_ui.bootstrap import AdminUi, bootstrap
from admin_ui.config import Settings
from admin_ui.domain.accounts import AccountError, StaffMember, normalise_login_id
from admin_ui.domain.commands import CreateDepartment, CreateStaff, ResetPassword, ResetTwoFactor
from admin_ui.domain.permissions import ROLE_LABELS, Grant, Role
from admin_ui.domain.security import new_totp_secret, totp_uri
from admin_ui.service_layer import accounts

DEMO_DEPARTMENTS = (("bousai", "防災危機管理課"), ("kosodate", "子育て支援課"), ("kouhou", "広報課"))
# Demo only: fixed, published passwords. seed-demo refuses to run where cookies are Secure (a real site).
DEMO_ACCOUNTS = (
    ("demo-admin", "デモ 管理者", frozenset({Grant(Role.ADMIN)}), "itami-demo-kanrisha-2026"),
    ("demo-approver", "デモ 承認者", frozenset({Grant(Role.APPROVER, "bousai")}), "itami-demo-shounin-2026"),
    ("demo-author", "デモ 作成者", frozenset({Grant(Role.AUTHOR, "kosodate"), Grant(Role.VIEWER, "kouhou")}),
     "itami-demo-sakusei-2026"),
    ("demo-viewer", "デモ 閲覧者", frozenset({Grant(Role.VIEWER, "kouhou")}), "itami-demo-etsuran-2026"),
)


def demo_totp_secret(login_id: str) -> str:
    """A fixed secret per demo account (printed by seed-demo; never used outside the demo)."""
    return base64.b32encode(hashlib.sha256(f"cityline demo totp {login_id}".encode()).digest()[:20]).decode()


def read_password(prompt: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if first != getpass.getpass("もう一度 (again): "):
        sys.exit("パスワードが一致しません (the passwords differ)")
    return first


def find(service: AdminUi, login_id: str) -> StaffMember:
    login_id = normalise_login_id(login_id)
    member = next((m for m in service.bus.query(accounts.staff_list) if m.login_id == login_id), None)
    if member is None:
        sys.exit(f"no staff account {login_id!r}")
    return member


def create_admin(service: AdminUi, login_id: str, name: str) -> None:
    password = read_password("パスワード (password, 12+ characters): ")
    secret = new_totp_secret()
    created = service.bus.handle(CreateStaff(None, login_id, name, frozenset({Grant(Role.ADMIN)}),
                                             password=password, totp_secret=secret))
    print(f"created システム管理者 {created.login_id}")
    print(f"TOTP secret (authenticator app, or `oathtool --totp -b {secret}`): {secret}")
    print(f"otpauth URI: {totp_uri(secret, created.login_id)}")


def seed_demo(service: AdminUi, force: bool) -> None:
    if service.settings.admin_ui_cookie_secure and not force:
        sys.exit("seed-demo makes accounts with published passwords: it runs only where ADMIN_UI_COOKIE_SECURE=false "
                 "(the local demo), or with --i-know-this-is-a-demo")
    known = {d.code for d in service.bus.query(accounts.department_list)}
    for code, name in DEMO_DEPARTMENTS:
        if code not in known:
            service.bus.handle(CreateDepartment(None, code, name))
    existing = {m.login_id for m in service.bus.query(accounts.staff_list)}
    port = os.environ.get("ADMIN_UI_PORT", "8000")
    print(f"\n  管理画面 sign-in: http://127.0.0.1:{port}/signin   (demo accounts; TOTP: authenticator app or "
          "`oathtool --totp -b SECRET`)")
    for login_id, name, grants, password in DEMO_ACCOUNTS:
        secret = demo_totp_secret(login_id)
        if login_id not in existing:
            service.bus.handle(CreateStaff(None, login_id, name, grants, password=password, totp_secret=secret))
        roles = "、".join(ROLE_LABELS[g.role] + (f"({g.department})" if g.department else "")
                         for g in sorted(grants, key=lambda g: g.sort_key))
        print(f"    {login_id:<14} {password:<26} TOTP {secret}  {roles}")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="admin-ui-users", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create-admin", help="create a システム管理者 and print its TOTP secret")
    create.add_argument("login_id")
    create.add_argument("--name", required=True, help="display name, e.g. 伊丹 太郎")
    reset = sub.add_parser("reset-password", help="set a new password (asked for); ends the member's sessions")
    reset.add_argument("login_id")
    reset_2fa = sub.add_parser("reset-2fa", help="remove the second factor; it is set up again at next sign-in")
    reset_2fa.add_argument("login_id")
    seed = sub.add_parser("seed-demo", help="demo departments and one account per role (local demo only)")
    seed.add_argument("--i-know-this-is-a-demo", dest="force", action="store_true")
    args = parser.parse_args(argv)
    service = bootstrap_from_environment("admin-ui-users", Settings, bootstrap)
    try:
        if args.action == "create-admin":
            create_admin(service, args.login_id, args.name)
        elif args.action == "reset-password":
            member = find(service, args.login_id)
            password = read_password("新しいパスワード (new password): ")
            service.bus.handle(ResetPassword(None, member.id, password=password))
            print(f"password of {member.login_id} changed; their sessions ended")
        elif args.action == "reset-2fa":
            member = find(service, args.login_id)
            service.bus.handle(ResetTwoFactor(None, member.id))
            print(f"second factor of {member.login_id} removed; they set up a new one at next sign-in")
        else:
            seed_demo(service, args.force)
    except AccountError as exc:
        sys.exit(str(exc))
