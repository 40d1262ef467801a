"""segment-service, called as the service ``richmenu`` (a 60-second token per call): which of the rules'
segments a resident is in (with their LINE user id, to link them), and the members of a segment frozen
under a key of ours (a mass change pages through them, LINE user ids opened page by page)."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cityline_common.internal_auth import InternalTokenSigner
from cityline_common.service_client import ServiceClient, ServiceUnavailable

SEGMENT_AUDIENCE = "segment"
PAGE = 5000


class SegmentsUnavailable(ServiceUnavailable):
    """segment-service refused or did not answer; ``status`` None when it did not answer."""


@dataclass(frozen=True)
class Membership:
    following: bool
    line_user_id: str | None  # None unless following
    member_of: frozenset[str]  # segment ids (str)


@dataclass(frozen=True)
class Member:
    position: int  # in the frozen list (1..n): what :meth:`AbstractSegments.line_user_ids` asks by
    resident_id: uuid.UUID


class AbstractSegments(abc.ABC):
    @abc.abstractmethod
    def membership(self, resident_id: uuid.UUID, segment_ids: Sequence[str]) -> Membership | None:
        """None when segment-service knows no such resident."""

    @abc.abstractmethod
    def members(self, key: str, segment_id: str) -> Iterator[Member]:
        """The segment's followers who match it now (frozen once under ``key``: asking again pages the same).
        No LINE user id: a mass change opens those it already keeps itself and asks only for the others."""

    @abc.abstractmethod
    def line_user_ids(self, key: str, positions: Sequence[int]) -> dict[int, str]:
        """The LINE user ids of these positions of the list frozen under ``key``."""


class HttpSegments(AbstractSegments):
    def __init__(self, base_url: str, signer: InternalTokenSigner | None, timeout: float = 30.0) -> None:
        self._client = ServiceClient(base_url, signer, SEGMENT_AUDIENCE, caller="richmenu", error=SegmentsUnavailable,
                                     timeout=timeout)

    def membership(self, resident_id: uuid.UUID, segment_ids: Sequence[str]) -> Membership | None:
        try:
            body = self._client.call("POST", f"/internal/residents/{resident_id}/memberships",
                                     json={"segmentIds": list(segment_ids)})
        except SegmentsUnavailable as exc:
            if exc.status == 404:
                return None
            raise
        return Membership(bool(body["following"]), body.get("lineUserId"),
                          frozenset(str(s) for s in body.get("memberOf", [])))

    def members(self, key: str, segment_id: str) -> Iterator[Member]:
        self._client.call("POST", f"/internal/member-lists/{key}", json={"segmentId": segment_id})
        after: int | None = 0
        while after is not None:
            body = self._client.call("GET", f"/internal/member-lists/{key}",
                                     params={"after": str(after), "limit": str(PAGE)})
            for member in body["recipients"]:
                yield Member(int(member["position"]), uuid.UUID(member["residentId"]))
            after = body.get("next")

    def line_user_ids(self, key: str, positions: Sequence[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for first, last in _ranges(sorted(set(positions))):
            body = self._client.call("GET", f"/internal/member-lists/{key}",
                                     params={"after": str(first - 1), "limit": str(last - first + 1),
                                             "with": "lineUserId"})
            found.update((int(m["position"]), str(m["lineUserId"])) for m in body["recipients"])
        return found


def _ranges(positions: Sequence[int], gap: int = 200) -> Iterator[tuple[int, int]]:
    """Sorted positions as (first, last) ranges of at most a page, joining those less than ``gap`` apart (a few
    ids opened for nothing cost less than a request)."""
    if not positions:
        return
    first = last = positions[0]
    for position in positions[1:]:
        if position - last < gap and position - first < PAGE:
            last = position
            continue
        yield first, last
        first = last = position
    yield first, last
