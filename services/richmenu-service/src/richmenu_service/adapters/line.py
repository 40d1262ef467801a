"""LINE's rich menu API through line-bot-sdk (v3): menus, images, aliases, the default, per-user links,
bulk link / unlink and batch control. The SDK's own retries are off (``line_clients(retries=0)``); a 429
becomes :class:`LineRateLimited` for the caller's retry policy, any other refusal :class:`LineRefused`."""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from cityline_common.line_client import line_clients
from cityline_common.settings import LineSettings
from linebot.v3.messaging import (
    CreateRichMenuAliasRequest,
    RichMenuBatchRequest,
    RichMenuBatchUnlinkAllOperation,
    RichMenuBulkLinkRequest,
    RichMenuBulkUnlinkRequest,
    RichMenuRequest,
    UpdateRichMenuAliasRequest,
)
from linebot.v3.messaging.exceptions import ApiException

T = TypeVar("T")
BULK_RETRIES = 5


class LineRefused(Exception):
    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(f"LINE refused ({status}): {reason}")
        self.status = status
        self.reason = reason


class LineRateLimited(LineRefused):
    """HTTP 429: LINE's limit for this kind of request (create 100/h, batch 3/h, others 2,000/s)."""


class AbstractLine(abc.ABC):
    """The part of LINE's Messaging API this service uses."""

    @abc.abstractmethod
    def create_menu(self, request: Mapping[str, Any]) -> str: ...

    @abc.abstractmethod
    def upload_image(self, rich_menu_id: str, data: bytes, content_type: str) -> None: ...

    @abc.abstractmethod
    def get_menu(self, rich_menu_id: str) -> dict[str, Any] | None:
        """LINE's rich menu object without ``richMenuId``; None when LINE has no such menu."""

    @abc.abstractmethod
    def delete_menu(self, rich_menu_id: str) -> bool:
        """False when LINE had no such menu."""

    @abc.abstractmethod
    def set_alias(self, alias_id: str, rich_menu_id: str) -> None:
        """Create the alias, or point it at ``rich_menu_id`` if it exists."""

    @abc.abstractmethod
    def get_alias(self, alias_id: str) -> str | None: ...

    @abc.abstractmethod
    def delete_alias(self, alias_id: str) -> None: ...

    @abc.abstractmethod
    def set_default(self, rich_menu_id: str | None) -> None: ...

    @abc.abstractmethod
    def get_default(self) -> str | None: ...

    @abc.abstractmethod
    def link(self, user_id: str, rich_menu_id: str) -> None: ...

    @abc.abstractmethod
    def unlink(self, user_id: str) -> None: ...

    @abc.abstractmethod
    def bulk_link(self, rich_menu_id: str, user_ids: Sequence[str]) -> None: ...

    @abc.abstractmethod
    def bulk_unlink(self, user_ids: Sequence[str]) -> None: ...

    @abc.abstractmethod
    def unlink_all(self) -> str:
        """Batch control ``unlinkAll`` (3 per hour); returns the request id for :meth:`batch_phase`."""

    @abc.abstractmethod
    def batch_phase(self, request_id: str) -> str:
        """ongoing | succeeded | failed"""


def _reason(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return str(exc.reason or "")
    details = "; ".join(f"{d.get('property', '')}: {d.get('message', '')}" for d in body.get("details") or []
                        if isinstance(d, dict))
    return (str(body.get("message", "")) + (f" ({details})" if details else ""))[:500]


def _called(call: Callable[[], T]) -> T:
    try:
        return call()
    except ApiException as exc:
        if exc.status == 429:
            raise LineRateLimited(429, _reason(exc)) from None
        raise LineRefused(exc.status, _reason(exc)) from None


def _not_found(exc: LineRefused) -> bool:
    return exc.status == 404 or (exc.status == 400 and "not found" in exc.reason.lower())


class SdkLine(AbstractLine):
    def __init__(self, settings: LineSettings, pool_size: int = 16) -> None:
        self._clients = line_clients(settings, pool_size=pool_size)
        self._api, self._blob = self._clients.messaging, self._clients.blob

    def create_menu(self, request: Mapping[str, Any]) -> str:
        made = _called(lambda: self._api.create_rich_menu(RichMenuRequest.from_dict(dict(request))))
        return str(made.rich_menu_id)

    def upload_image(self, rich_menu_id: str, data: bytes, content_type: str) -> None:
        _called(lambda: self._blob.set_rich_menu_image(rich_menu_id, bytearray(data),
                                                       _headers={"Content-Type": content_type}))

    def get_menu(self, rich_menu_id: str) -> dict[str, Any] | None:
        try:
            found = _called(lambda: self._api.get_rich_menu(rich_menu_id))
        except LineRefused as exc:
            if _not_found(exc):
                return None
            raise
        body: dict[str, Any] = found.to_dict()
        body.pop("richMenuId", None)
        return body

    def delete_menu(self, rich_menu_id: str) -> bool:
        try:
            _called(lambda: self._api.delete_rich_menu(rich_menu_id))
        except LineRefused as exc:
            if _not_found(exc):
                return False
            raise
        return True

    def set_alias(self, alias_id: str, rich_menu_id: str) -> None:
        if self.get_alias(alias_id) is None:
            _called(lambda: self._api.create_rich_menu_alias(
                CreateRichMenuAliasRequest(rich_menu_alias_id=alias_id, rich_menu_id=rich_menu_id)))
        else:
            _called(lambda: self._api.update_rich_menu_alias(
                alias_id, UpdateRichMenuAliasRequest(rich_menu_id=rich_menu_id)))

    def get_alias(self, alias_id: str) -> str | None:
        try:
            found = _called(lambda: self._api.get_rich_menu_alias(alias_id))
        except LineRefused as exc:
            if _not_found(exc):
                return None
            raise
        return str(found.rich_menu_id)

    def delete_alias(self, alias_id: str) -> None:
        try:
            _called(lambda: self._api.delete_rich_menu_alias(alias_id))
        except LineRefused as exc:
            if not _not_found(exc):
                raise

    def set_default(self, rich_menu_id: str | None) -> None:
        if rich_menu_id is None:
            _called(self._api.cancel_default_rich_menu)
        else:
            _called(lambda: self._api.set_default_rich_menu(rich_menu_id))

    def get_default(self) -> str | None:
        try:
            found = _called(self._api.get_default_rich_menu_id)
        except LineRefused as exc:
            if _not_found(exc):
                return None
            raise
        return str(found.rich_menu_id)

    def link(self, user_id: str, rich_menu_id: str) -> None:
        _called(lambda: self._api.link_rich_menu_id_to_user(user_id, rich_menu_id))

    def unlink(self, user_id: str) -> None:
        try:
            _called(lambda: self._api.unlink_rich_menu_id_from_user(user_id))
        except LineRefused as exc:
            if not _not_found(exc):
                raise

    def _bulk(self, call: Callable[[], None]) -> None:
        # 2,000 requests/s is shared with everything else the channel does: a 429 waits and tries again.
        for attempt in range(BULK_RETRIES):
            try:
                _called(call)
                return
            except LineRateLimited:
                if attempt == BULK_RETRIES - 1:
                    raise
                time.sleep(0.2 * 2 ** attempt)

    def bulk_link(self, rich_menu_id: str, user_ids: Sequence[str]) -> None:
        self._bulk(lambda: self._api.link_rich_menu_id_to_users(
            RichMenuBulkLinkRequest(rich_menu_id=rich_menu_id, user_ids=list(user_ids))))

    def bulk_unlink(self, user_ids: Sequence[str]) -> None:
        self._bulk(lambda: self._api.unlink_rich_menu_id_from_users(
            RichMenuBulkUnlinkRequest(user_ids=list(user_ids))))

    def unlink_all(self) -> str:
        request = RichMenuBatchRequest(operations=[RichMenuBatchUnlinkAllOperation()])
        answered = _called(lambda: self._api.rich_menu_batch_with_http_info(request))
        headers = answered.headers or {}
        return str(headers.get("x-line-request-id") or headers.get("X-Line-Request-Id") or "")

    def batch_phase(self, request_id: str) -> str:
        found = _called(lambda: self._api.get_rich_menu_batch_progress(request_id))
        return str(found.phase.value if hasattr(found.phase, "value") else found.phase)

    def close(self) -> None:
        self._clients.close()
