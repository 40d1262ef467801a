"""Calls to the other services' internal HTTP APIs (admin-ui never reads their tables).

Every call carries a short-lived token signed for the target service (its manifest name is the
audience) on behalf of the signed-in staff member whose page asks; the target decides what that
member's roles allow (``cityline_common.internal_auth``)."""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import requests
from cityline_common.internal_auth import InternalTokenSigner, StaffClaims

from admin_ui.domain.dashboard import DayFigures, FriendFigures, whole_count
from admin_ui.domain.deliveries import (
    Asset,
    Delivery,
    DeliveryRefused,
    DeliveryTemplate,
    RecipientCount,
    Statistics,
    Summary,
    TestRecipient,
    parse_delivery,
    parse_statistics,
    parse_summary,
)
from admin_ui.domain.richmenus import (
    Change,
    Disaster,
    Menu,
    MenuSummary,
    RichMenuRefused,
    Rule,
    Rules,
    Seen,
    TemplateCatalogue,
    parse_catalogue,
    parse_change,
    parse_disaster,
    parse_menu,
    parse_problem,
    parse_rule,
    parse_rules,
    parse_seen,
)
from admin_ui.domain.richmenus import parse_summary as parse_menu_summary
from admin_ui.domain.segments import SavedSegment, SegmentCount, SegmentRefused
from admin_ui.domain.status import ServiceStatus, StatusTarget

log = logging.getLogger(__name__)

SEGMENT_AUDIENCE = "segment"  # segment-service's manifest name
DISPATCHER_AUDIENCE = "dispatcher"  # the dispatcher's manifest name
RICHMENU_AUDIENCE = "richmenu"  # richmenu-service's manifest name
TOKEN_TTL_SECONDS = 60  # one token per call: it only has to outlive the request


class AbstractInternalApi(abc.ABC):
    @abc.abstractmethod
    def readiness(self, targets: list[StatusTarget]) -> list[ServiceStatus]: ...

    @abc.abstractmethod
    def resident_counts(self, staff: StaffClaims) -> dict[str, int] | None:
        """Friends by status from segment-service, asked on behalf of ``staff``, or None when it does
        not answer (or refuses)."""

    @abc.abstractmethod
    def friend_figures(self, staff: StaffClaims, days: int) -> FriendFigures | None:
        """友だち数, ブロック数 and follows/blocks of the last ``days`` days from segment-service
        (``GET /internal/residents/summary``), asked on behalf of ``staff``; None when it does not
        answer, refuses, or answers something malformed."""

    # セグメント (segment-service's internal segment API). Not abstract: a fake that has no segments
    # says so by keeping these.

    def taxonomy(self, staff: StaffClaims) -> Any:
        """``GET /internal/taxonomy``: the current taxonomy's JSON, or None."""
        return None

    def segments(self, staff: StaffClaims) -> list[SavedSegment] | None:
        """The saved segments ``staff`` may see, or None when segment-service does not answer."""
        return None

    def segment(self, staff: StaffClaims, segment_id: str) -> SavedSegment | None:
        return None

    def count_segment(self, staff: StaffClaims, expression: Any, unanswered: str) -> SegmentCount:
        """Raises :class:`SegmentRefused` (an invalid expression, no taxonomy, refused, down)."""
        raise SegmentRefused("segment-service is not available")

    def save_segment(self, staff: StaffClaims, segment_id: str | None, name: str, department: str,
                     expression: Any) -> str:
        """Creates (``segment_id`` None) or changes a segment; its id. Raises :class:`SegmentRefused`."""
        raise SegmentRefused("segment-service is not available")

    def delete_segment(self, staff: StaffClaims, segment_id: str) -> None:
        """Raises :class:`SegmentRefused` (not found: status 404)."""
        raise SegmentRefused("segment-service is not available")

    # 受信設定の項目, 友だち分析 and the city's greetings (segment-service keeps them too).

    def taxonomy_versions(self, staff: StaffClaims) -> Any:
        """``GET /internal/taxonomy/versions``: ``{"versions": […]}``, or None."""
        return None

    def resident_choices(self, staff: StaffClaims) -> Any:
        """``GET /internal/residents/choices``: friends by district and each item's count, or None."""
        return None

    def preview_taxonomy(self, staff: StaffClaims, document: Any, mappings: Any) -> Any:
        """What publishing would move (``POST /internal/taxonomy/preview``). Raises :class:`SegmentRefused`."""
        raise SegmentRefused("segment-service is not available")

    def publish_taxonomy(self, staff: StaffClaims, document: Any, mappings: Any) -> Any:
        """``{"version", "created"}``. Raises :class:`SegmentRefused`."""
        raise SegmentRefused("segment-service is not available")

    def account_texts(self, staff: StaffClaims) -> Any:
        """``{"texts": [{"key", "text", "default", "updatedBy"}]}``, or None."""
        return None

    def set_account_text(self, staff: StaffClaims, key: str, text: str) -> None:
        """Raises :class:`SegmentRefused`."""
        raise SegmentRefused("segment-service is not available")

    # 配信 (the dispatcher's internal API, services/dispatcher/API.md). Not abstract: a fake without a
    # dispatcher says so by keeping these. Every one raises :class:`DeliveryRefused` when refused or down.

    def deliveries(self, staff: StaffClaims, status: str | None = None, department: str | None = None,
                   awaiting_me: bool = False) -> list[Summary]:
        """``GET /internal/deliveries``, newest first."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def delivery(self, staff: StaffClaims, delivery_id: str) -> Delivery:
        """``GET /internal/deliveries/<id>`` (404: unknown or another department's)."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def create_delivery(self, staff: StaffClaims, body: dict[str, Any]) -> str:
        """``POST /internal/deliveries``: the new 下書き's id."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def update_delivery(self, staff: StaffClaims, delivery_id: str, body: dict[str, Any]) -> Delivery:
        """``PUT /internal/deliveries/<id>`` (``body`` carries ``version``)."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def delivery_action(self, staff: StaffClaims, delivery_id: str, action: str, body: dict[str, Any]) -> Delivery:
        """``POST /internal/deliveries/<id>/<action>`` with ``{"version", "comment"?, "sendAt"?}``."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def count_delivery(self, staff: StaffClaims, delivery_id: str) -> RecipientCount:
        """``POST /internal/deliveries/<id>/count``."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def test_delivery(self, staff: StaffClaims, delivery_id: str, recipient_ids: list[str]) -> int:
        """``POST /internal/deliveries/<id>/test``: how many test phones it was pushed to."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def delivery_statistics(self, staff: StaffClaims, delivery_id: str) -> Statistics:
        """``GET /internal/deliveries/<id>/statistics``."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def test_recipients(self, staff: StaffClaims) -> list[TestRecipient]:
        """``GET /internal/test-recipients``."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def delivery_templates(self, staff: StaffClaims, department: str) -> list[DeliveryTemplate]:
        """``GET /internal/templates?department=``."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def save_delivery_template(self, staff: StaffClaims, department: str, name: str, messages: list[Any]) -> str:
        """``POST /internal/templates``: the template's id."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def upload_asset(self, staff: StaffClaims, department: str, content: bytes, content_type: str) -> Asset:
        """``POST /internal/assets?department=`` (the image as the body)."""
        raise DeliveryRefused(_NO_DISPATCHER)

    def asset(self, staff: StaffClaims, asset_id: str, size: str = "preview") -> tuple[bytes, str]:
        """``GET /internal/assets/<id>?size=``: the image and its content type."""
        raise DeliveryRefused(_NO_DISPATCHER)

    # リッチメニュー (richmenu-service's internal API, services/richmenu-service/API.md). Not abstract: a fake
    # without richmenu-service says so by keeping these. Every one raises :class:`RichMenuRefused`.

    def richmenus(self, staff: StaffClaims) -> list[MenuSummary]:
        """``GET /internal/menus``, newest first (every department's)."""
        raise RichMenuRefused(_NO_RICHMENU)

    def richmenu(self, staff: StaffClaims, menu_id: str) -> Menu:
        raise RichMenuRefused(_NO_RICHMENU)

    def create_richmenu(self, staff: StaffClaims, body: dict[str, Any]) -> str:
        """``POST /internal/menus``: the new menu's id."""
        raise RichMenuRefused(_NO_RICHMENU)

    def update_richmenu(self, staff: StaffClaims, menu_id: str, body: dict[str, Any]) -> Menu:
        """``PUT /internal/menus/<id>`` (``body`` carries ``version``)."""
        raise RichMenuRefused(_NO_RICHMENU)

    def delete_richmenu(self, staff: StaffClaims, menu_id: str) -> None:
        raise RichMenuRefused(_NO_RICHMENU)

    def upload_richmenu_image(self, staff: StaffClaims, menu_id: str, tab: int, content: bytes,
                              content_type: str) -> Menu:
        """``PUT /internal/menus/<id>/tabs/<n>/image`` (the file as the body)."""
        raise RichMenuRefused(_NO_RICHMENU)

    def richmenu_image(self, staff: StaffClaims, menu_id: str, tab: int) -> tuple[bytes, str]:
        """The tab's image and its content type."""
        raise RichMenuRefused(_NO_RICHMENU)

    def save_richmenu_design(self, staff: StaffClaims, menu_id: str, tab: int, design: dict[str, Any],
                             actions: list[dict[str, Any]]) -> Menu:
        """``PUT /internal/menus/<id>/tabs/<n>/design``: the tab drawn from a template."""
        raise RichMenuRefused(_NO_RICHMENU)

    def richmenu_templates(self, staff: StaffClaims) -> TemplateCatalogue:
        raise RichMenuRefused(_NO_RICHMENU)

    def preview_richmenu_template(self, staff: StaffClaims, design: dict[str, Any]) -> bytes:
        """``POST /internal/templates/preview``: a PNG, nothing stored."""
        raise RichMenuRefused(_NO_RICHMENU)

    def export_richmenu(self, staff: StaffClaims, menu_id: str) -> bytes:
        """``GET /internal/menus/<id>/export``: the デザインデータ一式 (zip)."""
        raise RichMenuRefused(_NO_RICHMENU)

    def publish_richmenu(self, staff: StaffClaims, menu_id: str, version: int) -> Menu | None:
        """``POST /internal/menus/<id>/publish``: the menu as published, or None when LINE's hourly limit
        queued it (202: the worker publishes it later)."""
        raise RichMenuRefused(_NO_RICHMENU)

    def richmenu_rules(self, staff: StaffClaims) -> Rules:
        raise RichMenuRefused(_NO_RICHMENU)

    def save_richmenu_rule(self, staff: StaffClaims, rule_id: str | None, body: dict[str, Any]) -> Rule:
        """Creates (``rule_id`` None) or changes a 表示ルール."""
        raise RichMenuRefused(_NO_RICHMENU)

    def delete_richmenu_rule(self, staff: StaffClaims, rule_id: str) -> None:
        raise RichMenuRefused(_NO_RICHMENU)

    def preview_richmenu(self, staff: StaffClaims, body: dict[str, Any]) -> Seen:
        """``POST /internal/preview``: the menu a resident would see, and why."""
        raise RichMenuRefused(_NO_RICHMENU)

    def disaster(self, staff: StaffClaims) -> Disaster:
        raise RichMenuRefused(_NO_RICHMENU)

    def switch_disaster(self, staff: StaffClaims, body: dict[str, Any]) -> bool:
        """``POST /internal/disaster``: whether anything changed (a repeat changes nothing)."""
        raise RichMenuRefused(_NO_RICHMENU)

    def richmenu_changes(self, staff: StaffClaims, limit: int = 20) -> list[Change]:
        raise RichMenuRefused(_NO_RICHMENU)


_NO_DISPATCHER = "dispatcher is not available"
_NO_RICHMENU = "richmenu-service is not available"


class HttpInternalApi(AbstractInternalApi):
    def __init__(self, segment_service_url: str, timeout: float, signer: InternalTokenSigner,
                 dispatcher_url: str = "http://127.0.0.1:8004", richmenu_url: str = "http://127.0.0.1:8003") -> None:
        self._segment = segment_service_url
        self._dispatcher = dispatcher_url.rstrip("/")
        self._richmenu = richmenu_url.rstrip("/")
        self._timeout = timeout
        self._signer = signer
        self._http = requests.Session()

    def _auth(self, audience: str, staff: StaffClaims) -> dict[str, str]:
        token = self._signer.for_staff(audience, staff, ttl_seconds=TOKEN_TTL_SECONDS)
        return {"Authorization": f"Bearer {token}"}

    def readiness(self, targets: list[StatusTarget]) -> list[ServiceStatus]:
        statuses = []
        for target in targets:
            try:
                response = self._http.get(f"{target.url}/readyz", timeout=self._timeout)
                checks = response.json().get("checks", {})
                detail = ", ".join(f"{check}: {state}" for check, state in checks.items())
                statuses.append(ServiceStatus(target, response.status_code == 200, detail))
            except (requests.RequestException, ValueError) as exc:
                statuses.append(ServiceStatus(target, False, f"unreachable: {type(exc).__name__}"))
        return statuses

    def _get_segment(self, path: str, staff: StaffClaims, params: dict[str, str] | None = None) -> Any:
        """The JSON body of a GET to segment-service, or None (refused, down, or not JSON)."""
        try:
            response = self._http.get(f"{self._segment}{path}", params=params,
                                      headers=self._auth(SEGMENT_AUDIENCE, staff), timeout=self._timeout)
            if response.status_code in (401, 403):
                log.warning("segment-service refused the internal API call",
                            extra={"status": response.status_code, "reason": _reason(response)})
                return None
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError):
            return None

    def resident_counts(self, staff: StaffClaims) -> dict[str, int] | None:
        counts = self._get_segment("/internal/residents/stats", staff)
        if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
            return None
        return {str(key): value for key, value in counts.items()}

    def friend_figures(self, staff: StaffClaims, days: int) -> FriendFigures | None:
        body = self._get_segment("/internal/residents/summary", staff, {"days": str(days)})
        try:
            return parse_friend_figures(body)
        except (KeyError, TypeError, ValueError):
            log.warning("segment-service answered a malformed friend summary")
            return None

    def taxonomy(self, staff: StaffClaims) -> Any:
        return self._get_segment("/internal/taxonomy", staff)

    def segments(self, staff: StaffClaims) -> list[SavedSegment] | None:
        body = self._get_segment("/internal/segments", staff)
        try:
            return [parse_segment(each) for each in body["segments"]]
        except (KeyError, TypeError, ValueError):
            return None

    def segment(self, staff: StaffClaims, segment_id: str) -> SavedSegment | None:
        body = self._get_segment(f"/internal/segments/{segment_id}", staff)
        try:
            return parse_segment(body)
        except (KeyError, TypeError, ValueError):
            return None

    def _send(self, method: str, path: str, staff: StaffClaims, body: Any = None) -> Any:
        try:
            response = self._http.request(method, f"{self._segment}{path}", json=body,
                                          headers=self._auth(SEGMENT_AUDIENCE, staff), timeout=self._timeout)
        except requests.RequestException as exc:
            raise SegmentRefused(f"segment-service did not answer: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise SegmentRefused(_reason(response), response.status_code)
        try:
            return response.json()
        except ValueError:
            raise SegmentRefused("segment-service answered something that is not JSON") from None

    def count_segment(self, staff: StaffClaims, expression: Any, unanswered: str) -> SegmentCount:
        body = self._send("POST", "/internal/segments/count", staff,
                          {"expression": expression, "unanswered": unanswered})
        try:
            return SegmentCount(whole_count(body["matching"]), whole_count(body["unanswered"]),
                                whole_count(body["recipients"]),
                                bool(body["unansweredIncluded"]))
        except (KeyError, TypeError, ValueError):
            raise SegmentRefused("segment-service answered a malformed count") from None

    def save_segment(self, staff: StaffClaims, segment_id: str | None, name: str, department: str,
                     expression: Any) -> str:
        body = {"name": name, "department": department, "expression": expression}
        answer = (self._send("POST", "/internal/segments", staff, body) if segment_id is None
                  else self._send("PUT", f"/internal/segments/{segment_id}", staff, body))
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise SegmentRefused("segment-service answered a malformed save")
        return str(answer["id"])

    def delete_segment(self, staff: StaffClaims, segment_id: str) -> None:
        self._send("DELETE", f"/internal/segments/{segment_id}", staff)


    def taxonomy_versions(self, staff: StaffClaims) -> Any:
        return self._get_segment("/internal/taxonomy/versions", staff)

    def resident_choices(self, staff: StaffClaims) -> Any:
        return self._get_segment("/internal/residents/choices", staff)

    def preview_taxonomy(self, staff: StaffClaims, document: Any, mappings: Any) -> Any:
        return self._send("POST", "/internal/taxonomy/preview", staff, {"document": document, "mappings": mappings})

    def publish_taxonomy(self, staff: StaffClaims, document: Any, mappings: Any) -> Any:
        return self._send("POST", "/internal/taxonomy", staff, {"document": document, "mappings": mappings})

    def account_texts(self, staff: StaffClaims) -> Any:
        return self._get_segment("/internal/account-texts", staff)

    def set_account_text(self, staff: StaffClaims, key: str, text: str) -> None:
        self._send("PUT", f"/internal/account-texts/{key}", staff, {"text": text})

    # --- 配信 (dispatcher) -------------------------------------------------------------------------

    def _request(self, base: str, audience: str, method: str, path: str, *, staff: StaffClaims, body: Any = None,
                 params: dict[str, str] | None = None, data: bytes | None = None,
                 content_type: str | None = None) -> requests.Response:
        """One call to another service's internal API (raises requests' own exceptions: the caller names them)."""
        headers = self._auth(audience, staff)
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self._http.request(method, f"{base}{path}", params=params, json=body if data is None else None,
                                  data=data, headers=headers, timeout=self._timeout)

    def _dispatch(self, method: str, path: str, staff: StaffClaims, body: Any = None, *,
                  params: dict[str, str] | None = None, data: bytes | None = None,
                  content_type: str | None = None) -> requests.Response:
        try:
            response = self._request(self._dispatcher, DISPATCHER_AUDIENCE, method, path, staff=staff, body=body,
                                     params=params, data=data, content_type=content_type)
        except requests.RequestException as exc:
            raise DeliveryRefused(f"dispatcher did not answer: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise refusal(response)
        return response

    def _dispatch_json(self, method: str, path: str, staff: StaffClaims, body: Any = None,
                       params: dict[str, str] | None = None) -> Any:
        response = self._dispatch(method, path, staff, body, params=params)
        try:
            return response.json()
        except ValueError:
            raise DeliveryRefused("dispatcher answered something that is not JSON", response.status_code) from None

    def deliveries(self, staff: StaffClaims, status: str | None = None, department: str | None = None,
                   awaiting_me: bool = False) -> list[Summary]:
        params = {key: value for key, value in (("status", status), ("department", department),
                                                 ("awaiting", "me" if awaiting_me else None)) if value}
        body = self._dispatch_json("GET", "/internal/deliveries", staff, params=params)
        return _parsed(lambda: [parse_summary(each) for each in body["deliveries"]])

    def delivery(self, staff: StaffClaims, delivery_id: str) -> Delivery:
        body = self._dispatch_json("GET", f"/internal/deliveries/{delivery_id}", staff)
        return _parsed(lambda: parse_delivery(body))

    def create_delivery(self, staff: StaffClaims, body: dict[str, Any]) -> str:
        answer = self._dispatch_json("POST", "/internal/deliveries", staff, body)
        return _parsed(lambda: str(answer["id"]))

    def update_delivery(self, staff: StaffClaims, delivery_id: str, body: dict[str, Any]) -> Delivery:
        answer = self._dispatch_json("PUT", f"/internal/deliveries/{delivery_id}", staff, body)
        return _parsed(lambda: parse_delivery(answer))

    def delivery_action(self, staff: StaffClaims, delivery_id: str, action: str, body: dict[str, Any]) -> Delivery:
        answer = self._dispatch_json("POST", f"/internal/deliveries/{delivery_id}/{action}", staff, body)
        return _parsed(lambda: parse_delivery(answer))

    def count_delivery(self, staff: StaffClaims, delivery_id: str) -> RecipientCount:
        answer = self._dispatch_json("POST", f"/internal/deliveries/{delivery_id}/count", staff, {})
        return _parsed(lambda: RecipientCount(
            whole_count(answer["recipients"]),
            None if answer.get("matching") is None else whole_count(answer["matching"]),
            None if answer.get("unanswered") is None else whole_count(answer["unanswered"]),
            bool(answer.get("unansweredIncluded"))))

    def test_delivery(self, staff: StaffClaims, delivery_id: str, recipient_ids: list[str]) -> int:
        answer = self._dispatch_json("POST", f"/internal/deliveries/{delivery_id}/test", staff,
                                     {"testRecipientIds": recipient_ids})
        return _parsed(lambda: whole_count(answer["sent"]))

    def delivery_statistics(self, staff: StaffClaims, delivery_id: str) -> Statistics:
        answer = self._dispatch_json("GET", f"/internal/deliveries/{delivery_id}/statistics", staff)
        return _parsed(lambda: parse_statistics(answer))

    def test_recipients(self, staff: StaffClaims) -> list[TestRecipient]:
        answer = self._dispatch_json("GET", "/internal/test-recipients", staff)
        return _parsed(lambda: [TestRecipient(str(each["id"]), str(each["label"]), str(each.get("department") or ""))
                                for each in answer["testRecipients"]])

    def delivery_templates(self, staff: StaffClaims, department: str) -> list[DeliveryTemplate]:
        answer = self._dispatch_json("GET", "/internal/templates", staff, params={"department": department})
        return _parsed(lambda: [DeliveryTemplate(str(each["id"]), str(each["department"]), str(each["name"]),
                                                 tuple(each["messages"])) for each in answer["templates"]])

    def save_delivery_template(self, staff: StaffClaims, department: str, name: str, messages: list[Any]) -> str:
        answer = self._dispatch_json("POST", "/internal/templates", staff,
                                     {"department": department, "name": name, "messages": messages})
        return _parsed(lambda: str(answer["id"]))

    def upload_asset(self, staff: StaffClaims, department: str, content: bytes, content_type: str) -> Asset:
        response = self._dispatch("POST", "/internal/assets", staff, params={"department": department},
                                  data=content, content_type=content_type)
        return _parsed(lambda: _asset(response.json()))

    def asset(self, staff: StaffClaims, asset_id: str, size: str = "preview") -> tuple[bytes, str]:
        response = self._dispatch("GET", f"/internal/assets/{asset_id}", staff, params={"size": size})
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in ("image/jpeg", "image/png"):
            raise DeliveryRefused("dispatcher answered something that is not an image", response.status_code)
        return response.content, content_type


    # --- リッチメニュー (richmenu-service) -------------------------------------------------------------

    def _menu_call(self, method: str, path: str, staff: StaffClaims, body: Any = None, *,
                   params: dict[str, str] | None = None, data: bytes | None = None,
                   content_type: str | None = None) -> requests.Response:
        try:
            response = self._request(self._richmenu, RICHMENU_AUDIENCE, method, path, staff=staff, body=body,
                                     params=params, data=data, content_type=content_type)
        except requests.RequestException as exc:
            raise RichMenuRefused(f"richmenu-service did not answer: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise menu_refusal(response)
        return response

    def _menu_json(self, method: str, path: str, staff: StaffClaims, body: Any = None, *,
                   params: dict[str, str] | None = None, data: bytes | None = None,
                   content_type: str | None = None) -> Any:
        response = self._menu_call(method, path, staff, body, params=params, data=data, content_type=content_type)
        try:
            return response.json()
        except ValueError:
            raise RichMenuRefused("richmenu-service answered something that is not JSON",
                                  response.status_code) from None

    def _menu_bytes(self, method: str, path: str, staff: StaffClaims, body: Any,
                    accept: tuple[str, ...]) -> tuple[bytes, str]:
        response = self._menu_call(method, path, staff, body)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in accept:
            raise RichMenuRefused(f"richmenu-service answered {content_type or 'nothing'}", response.status_code)
        return response.content, content_type

    def richmenus(self, staff: StaffClaims) -> list[MenuSummary]:
        body = self._menu_json("GET", "/internal/menus", staff)
        return _menu_parsed(lambda: [parse_menu_summary(each) for each in body["menus"]])

    def richmenu(self, staff: StaffClaims, menu_id: str) -> Menu:
        body = self._menu_json("GET", f"/internal/menus/{menu_id}", staff)
        return _menu_parsed(lambda: parse_menu(body))

    def create_richmenu(self, staff: StaffClaims, body: dict[str, Any]) -> str:
        answer = self._menu_json("POST", "/internal/menus", staff, body)
        return _menu_parsed(lambda: str(answer["id"]))

    def update_richmenu(self, staff: StaffClaims, menu_id: str, body: dict[str, Any]) -> Menu:
        answer = self._menu_json("PUT", f"/internal/menus/{menu_id}", staff, body)
        return _menu_parsed(lambda: parse_menu(answer))

    def delete_richmenu(self, staff: StaffClaims, menu_id: str) -> None:
        self._menu_call("DELETE", f"/internal/menus/{menu_id}", staff)

    def upload_richmenu_image(self, staff: StaffClaims, menu_id: str, tab: int, content: bytes,
                              content_type: str) -> Menu:
        answer = self._menu_json("PUT", f"/internal/menus/{menu_id}/tabs/{tab}/image", staff, data=content,
                                 content_type=content_type)
        return _menu_parsed(lambda: parse_menu(answer))

    def richmenu_image(self, staff: StaffClaims, menu_id: str, tab: int) -> tuple[bytes, str]:
        return self._menu_bytes("GET", f"/internal/menus/{menu_id}/tabs/{tab}/image", staff, None,
                                ("image/png", "image/jpeg"))

    def save_richmenu_design(self, staff: StaffClaims, menu_id: str, tab: int, design: dict[str, Any],
                             actions: list[dict[str, Any]]) -> Menu:
        answer = self._menu_json("PUT", f"/internal/menus/{menu_id}/tabs/{tab}/design", staff,
                                 {"design": design, "actions": actions})
        return _menu_parsed(lambda: parse_menu(answer))

    def richmenu_templates(self, staff: StaffClaims) -> TemplateCatalogue:
        body = self._menu_json("GET", "/internal/templates", staff)
        return _menu_parsed(lambda: parse_catalogue(body))

    def preview_richmenu_template(self, staff: StaffClaims, design: dict[str, Any]) -> bytes:
        return self._menu_bytes("POST", "/internal/templates/preview", staff, design, ("image/png",))[0]

    def export_richmenu(self, staff: StaffClaims, menu_id: str) -> bytes:
        return self._menu_bytes("GET", f"/internal/menus/{menu_id}/export", staff, None,
                                ("application/zip",))[0]

    def publish_richmenu(self, staff: StaffClaims, menu_id: str, version: int) -> Menu | None:
        response = self._menu_call("POST", f"/internal/menus/{menu_id}/publish", staff, {"version": version})
        if response.status_code == 202:
            return None
        return _menu_parsed(lambda: parse_menu(response.json()))

    def richmenu_rules(self, staff: StaffClaims) -> Rules:
        body = self._menu_json("GET", "/internal/rules", staff)
        return _menu_parsed(lambda: parse_rules(body))

    def save_richmenu_rule(self, staff: StaffClaims, rule_id: str | None, body: dict[str, Any]) -> Rule:
        answer = (self._menu_json("POST", "/internal/rules", staff, body) if rule_id is None
                  else self._menu_json("PUT", f"/internal/rules/{rule_id}", staff, body))
        return _menu_parsed(lambda: parse_rule(answer))

    def delete_richmenu_rule(self, staff: StaffClaims, rule_id: str) -> None:
        self._menu_call("DELETE", f"/internal/rules/{rule_id}", staff)

    def preview_richmenu(self, staff: StaffClaims, body: dict[str, Any]) -> Seen:
        answer = self._menu_json("POST", "/internal/preview", staff, body)
        return _menu_parsed(lambda: parse_seen(answer))

    def disaster(self, staff: StaffClaims) -> Disaster:
        body = self._menu_json("GET", "/internal/disaster", staff)
        return _menu_parsed(lambda: parse_disaster(body))

    def switch_disaster(self, staff: StaffClaims, body: dict[str, Any]) -> bool:
        answer = self._menu_json("POST", "/internal/disaster", staff, body)
        return _menu_parsed(lambda: bool(answer["changed"]))

    def richmenu_changes(self, staff: StaffClaims, limit: int = 20) -> list[Change]:
        body = self._menu_json("GET", "/internal/changes", staff, params={"limit": str(limit)})
        return _menu_parsed(lambda: [c for c in (parse_change(each) for each in body["changes"]) if c is not None])

def _asset(body: Any) -> Asset:
    width, height = body.get("width"), body.get("height")
    return Asset(str(body["id"]), str(body["contentType"]),
                 width if isinstance(width, int) else None, height if isinstance(height, int) else None)


T = TypeVar("T")


def _parsed(read: Callable[[], T]) -> T:
    """``read()`` of a dispatcher answer; a malformed answer is a refusal, never shown as a fact."""
    try:
        return read()
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DeliveryRefused("dispatcher answered something malformed") from None


def _menu_parsed(read: Callable[[], T]) -> T:
    """``read()`` of a richmenu-service answer; a malformed answer is a refusal, never shown as a fact."""
    try:
        return read()
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RichMenuRefused("richmenu-service answered something malformed") from None


def _error_body(response: requests.Response) -> dict[str, Any]:
    """An internal API's error body (``{"error", "reason", "code", "problems"?}``), or {}."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def menu_refusal(response: requests.Response) -> RichMenuRefused:
    """richmenu-service's error body as an exception; its problems name the tab and button."""
    body = _error_body(response)
    problems = body.get("problems")
    return RichMenuRefused(str(body.get("reason") or "")[:500], response.status_code, str(body.get("code") or "")[:64],
                           [parse_problem(p) for p in problems[:100]] if isinstance(problems, list) else [])


def refusal(response: requests.Response) -> DeliveryRefused:
    """The dispatcher's error body as an exception."""
    body = _error_body(response)
    problems = body.get("problems")
    return DeliveryRefused(str(body.get("reason") or "")[:500], response.status_code, str(body.get("code") or "")[:64],
                           [str(p)[:500] for p in problems[:50]] if isinstance(problems, list) else [])


def parse_segment(body: Any) -> SavedSegment:
    """One of segment-service's saved segments; raises on anything malformed."""
    updated = body.get("updatedAt") or body.get("createdAt")
    return SavedSegment(
        id=str(body["id"]), name=str(body["name"]), department=str(body["department"]),
        expression=body["expression"], updated_by=body.get("updatedBy") or body.get("createdBy"),
        updated_at=datetime.fromisoformat(updated) if isinstance(updated, str) else None,
    )



def parse_friend_figures(body: Any) -> FriendFigures | None:
    """segment-service's summary (``{"following", "blocked", "today", "timezone", "recordedSince",
    "days": [{"date", "follows", "unfollows"}, …]}``) as the page's figures; raises on anything
    malformed, so a wrong answer is never shown as a fact."""
    if body is None:
        return None
    if not isinstance(body, dict) or not isinstance(body["days"], list):
        raise ValueError("not a friend summary")
    since_text = body["recordedSince"]
    since = None if since_text is None else date.fromisoformat(str(since_text))
    days = []
    for entry in body["days"]:
        day = date.fromisoformat(str(entry["date"]))
        recorded = since is not None and day >= since
        days.append(DayFigures(day, whole_count(entry["follows"]), whole_count(entry["unfollows"]), recorded))
    if [each.day for each in days] != sorted({each.day for each in days}):
        raise ValueError("days must be distinct and oldest first")
    return FriendFigures(
        following=whole_count(body["following"]), blocked=whole_count(body["blocked"]),
        today=date.fromisoformat(str(body["today"])), timezone=str(body["timezone"])[:64],
        recorded_since=since, days=tuple(days),
    )


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("reason", ""))[:200] if isinstance(body, dict) else ""
