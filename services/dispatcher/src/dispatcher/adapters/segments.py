"""segment-service's recipient API, called as the service ``dispatcher`` (a 60-second token per call).

Counting and freezing take the delivery's target; a page of a frozen list opens the LINE user ids of its
members only when asked (``with=lineUserId``), one send job at a time, just before that job is sent."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cityline_common.internal_auth import InternalTokenSigner
from cityline_common.service_client import ServiceClient, ServiceUnavailable

SEGMENT_AUDIENCE = "segment"
# True for every friend: answered or not (segment-service has no empty conjunction).
EVERYONE: dict[str, Any] = {"or": [{"answered": True}, {"answered": False}]}


class RecipientsUnavailable(ServiceUnavailable):
    """segment-service refused or did not answer; ``status`` None when it did not answer."""


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
        self._client = ServiceClient(base_url, signer, SEGMENT_AUDIENCE, caller="dispatcher",
                                     error=RecipientsUnavailable, timeout=timeout, pool_size=pool_size)
        self._call = self._client.call

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
