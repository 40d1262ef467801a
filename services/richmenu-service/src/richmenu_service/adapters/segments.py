"""segment-service, called as the service ``richmenu`` (a 60-second token per call): which of the rules'
segments a resident is in (with their LINE user id, to link them), and the members of a segment frozen
under a key of ours (a mass change pages through them, LINE user ids opened page by page)."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from cityline_common.internal_auth import InternalTokenSigner

SEGMENT_AUDIENCE = "segment"
PAGE = 5000


class SegmentsUnavailable(Exception):
    """segment-service refused or did not answer; ``status`` None when it did not answer."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Membership:
    following: bool
    line_user_id: str | None  # None unless following
    member_of: frozenset[str]  # segment ids (str)


@dataclass(frozen=True)
class Member:
    resident_id: uuid.UUID
    line_user_id: str


class AbstractSegments(abc.ABC):
    @abc.abstractmethod
    def membership(self, resident_id: uuid.UUID, segment_ids: Sequence[str]) -> Membership | None:
        """None when segment-service knows no such resident."""

    @abc.abstractmethod
    def members(self, key: str, segment_id: str) -> Iterator[Member]:
        """The segment's followers who match it now (frozen once under ``key``: asking again pages the same)."""


class HttpSegments(AbstractSegments):
    def __init__(self, base_url: str, signer: InternalTokenSigner | None, timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._signer = signer
        self._timeout = timeout
        self._http = requests.Session()

    def _call(self, method: str, path: str, **options: Any) -> Any:
        if self._signer is None:
            raise SegmentsUnavailable("INTERNAL_TOKEN_SIGNING_KEY is not set: richmenu cannot call segment-service")
        headers = {"Authorization": f"Bearer {self._signer.as_service(SEGMENT_AUDIENCE, ttl_seconds=60)}"}
        try:
            response = self._http.request(method, f"{self._base}{path}", headers=headers, timeout=self._timeout,
                                          **options)
        except requests.RequestException as exc:
            raise SegmentsUnavailable(f"segment-service did not answer: {type(exc).__name__}") from None
        if response.status_code == 404 and "/memberships" in path:
            return None
        if response.status_code >= 400:
            try:
                reason = str(response.json().get("reason", ""))[:300]
            except (ValueError, AttributeError):
                reason = ""
            raise SegmentsUnavailable(reason or f"HTTP {response.status_code}", response.status_code)
        return response.json()

    def membership(self, resident_id: uuid.UUID, segment_ids: Sequence[str]) -> Membership | None:
        body = self._call("POST", f"/internal/residents/{resident_id}/memberships",
                          json={"segmentIds": list(segment_ids)})
        if body is None:
            return None
        return Membership(bool(body["following"]), body.get("lineUserId"),
                          frozenset(str(s) for s in body.get("memberOf", [])))

    def members(self, key: str, segment_id: str) -> Iterator[Member]:
        self._call("POST", f"/internal/member-lists/{key}", json={"segmentId": segment_id})
        after: int | None = 0
        while after is not None:
            body = self._call("GET", f"/internal/member-lists/{key}",
                              params={"after": str(after), "limit": str(PAGE), "with": "lineUserId"})
            for member in body["recipients"]:
                yield Member(uuid.UUID(member["residentId"]), str(member["lineUserId"]))
            after = body.get("next")
