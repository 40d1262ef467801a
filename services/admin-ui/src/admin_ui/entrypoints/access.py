"""Deny by default: every route of the console declares what it needs, or the app does not start.

``@requires(Permission.X)`` (optionally ``department_arg="code"``: the URL argument naming the
department whose items the route shows) or ``@public`` tags a view; the app's one ``before_request``
hook enforces the tag, and :func:`check_routes` walks ``app.url_map`` at creation and raises
:class:`UndeclaredRoute` for any endpoint that declares nothing. A route that forgot is therefore
never served, rather than served to anyone.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, request

from admin_ui.domain.permissions import Permission

ACCESS_ATTR = "_admin_ui_access"
PUBLIC_ENDPOINTS = "admin_ui.public_endpoints"
F = TypeVar("F", bound=Callable[..., Any])


class UndeclaredRoute(RuntimeError):
    """An endpoint declares neither a permission nor ``@public``."""


@dataclass(frozen=True)
class Access:
    permission: Permission | None  # None: public
    department_arg: str | None = None

    @property
    def public(self) -> bool:
        return self.permission is None


def requires(permission: Permission, department_arg: str | None = None) -> Callable[[F], F]:
    if department_arg is not None and not permission.department_scoped:
        raise ValueError(f"{permission.name} is not about a department's items")

    def tag(view: F) -> F:
        setattr(view, ACCESS_ATTR, Access(permission, department_arg))
        return view

    return tag


def public(view: F) -> F:
    """Sign-in pages, the language switch, health and static files: nothing else."""
    setattr(view, ACCESS_ATTR, Access(None))
    return view


def declare_public(app: Flask, *endpoints: str) -> None:
    """For endpoints whose view is not ours to tag (Flask's ``static``, the shared /healthz …)."""
    app.extensions.setdefault(PUBLIC_ENDPOINTS, set()).update(endpoints)


def access_of(app: Flask, endpoint: str | None) -> Access | None:
    if endpoint is None:
        return None
    if endpoint in app.extensions.get(PUBLIC_ENDPOINTS, set()):
        return Access(None)
    view = app.view_functions.get(endpoint)
    found = getattr(view, ACCESS_ATTR, None)
    return found if isinstance(found, Access) else None


def check_routes(app: Flask) -> None:
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules() if access_of(app, rule.endpoint) is None})
    if missing:
        raise UndeclaredRoute(
            f"routes without a declared permission (add @requires(...) or @public): {', '.join(missing)}"
        )


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a path on this site (``/…``), else None: never ``//host``, ``https://…``,
    backslashes (browsers read ``/\\host`` as ``//host``), control characters or anything long."""
    if not value or len(value) > 512 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(unicodedata.category(ch)[0] == "C" for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def wants_json() -> bool:
    """API requests get 401/403 as JSON; pages get a redirect to sign-in or an HTML page."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html
