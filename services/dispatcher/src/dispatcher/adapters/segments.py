"""segment-service's recipient API, called as the service ``dispatcher`` (a 60-second token per call).

Counting and freezing take the delivery's target; a page of a frozen list opens the LINE user ids of its
members only when asked (``with=lineUserId``), one send job at a time, just before that job is sent."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from cityline_common.internal_auth import InternalTokenSigner

SEGMENT_AUDIENCE = "segment"
# True for every friend: answered or not (segment-service has no empty conjunction).
EVERYONE: dict[str, Any] = {"or": [{"answered": True}, {"answered": False}]}


class RecipientsUnavailable(Exception):
    """segment-service refused or did not answer; ``status`` None when it did not answer."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Count:
    recipients: int
    matching: int
    unanswered: int
    unanswered_included: bool


def request_body(target: Mapping[str, Any]) -> dict[str, Any]:
    """A delivery's target as segment-service's count/freeze body."""
    kind = target.get("kind")
    if kind == "segment":
        return {"segmentId": str(target.get("segmentId")), "unanswered": target.get("unanswered", "auto")}
    if kind == "expression":
        return {"expression": target.get("expression"), "unanswered": target.get("unanswered", "auto")}
    return {"expression": EVERYONE, "unanswered": "include"}


class AbstractRecipients(abc.ABC):
    @abc.abstractmethod
    def count(self, target: Mapping[str, Any]) -> Count: ...

    @abc.abstractmethod
    def freeze(self, list_id: uuid.UUID, target: Mapping[str, Any]) -> int:
        """Freeze the members once under ``list_id`` (idempotent: again, the same count)."""

    @abc.abstractmethod
    def line_user_ids(self, list_id: uuid.UUID, first: int, last: int) -> list[str]:
        """The LINE user ids of positions ``first``..``last`` of the frozen list."""


class HttpRecipients(AbstractRecipients):
    def __init__(self, base_url: str, signer: InternalTokenSigner | None, timeout: float = 30.0,
                 pool_size: int = 32) -> None:
        self._base = base_url.rstrip("/")
        self._signer = signer
        self._timeout = timeout
        self._http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)

    def _headers(self) -> dict[str, str]:
        if self._signer is None:
            raise RecipientsUnavailable("INTERNAL_TOKEN_SIGNING_KEY is not set: dispatcher cannot call segment-service")
        return {"Authorization": f"Bearer {self._signer.as_service(SEGMENT_AUDIENCE, ttl_seconds=60)}"}

    def _call(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self._http.request(method, f"{self._base}{path}", headers=self._headers(),
                                          timeout=self._timeout, **options)
        except requests.RequestException as exc:
            raise RecipientsUnavailable(f"segment-service did not answer: {type(exc).__name__}") from None
        if response.status_code >= 400:
            try:
                reason = str(response.json().get("reason", ""))[:300]
            except (ValueError, AttributeError):
                reason = ""
            raise RecipientsUnavailable(reason or f"HTTP {response.status_code}", response.status_code)
        return response.json()

    def count(self, target: Mapping[str, Any]) -> Count:
        body = self._call("POST", "/internal/segments/count", json=request_body(target))
        recipients, unanswered = int(body["recipients"]), int(body["unanswered"])
        if target.get("kind") not in ("segment", "expression"):
            # 友だち全員: "matching" are the friends who answered, so the two figures add up to the whole.
            return Count(recipients, recipients - unanswered, unanswered, True)
        return Count(recipients, int(body["matching"]), unanswered, bool(body["unansweredIncluded"]))

    def freeze(self, list_id: uuid.UUID, target: Mapping[str, Any]) -> int:
        body = self._call("POST", f"/internal/deliveries/{list_id}/recipients", json=request_body(target))
        return int(body["members"])

    def line_user_ids(self, list_id: uuid.UUID, first: int, last: int) -> list[str]:
        body = self._call("GET", f"/internal/deliveries/{list_id}/recipients",
                          params={"after": str(first - 1), "limit": str(last - first + 1), "with": "lineUserId"})
        members = body["recipients"]
        if [m["position"] for m in members] != list(range(first, first + len(members))):
            raise RecipientsUnavailable("segment-service answered positions out of order")
        return [str(m["lineUserId"]) for m in members]
