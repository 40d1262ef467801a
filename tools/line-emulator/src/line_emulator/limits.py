"""Per-endpoint rate limits (token buckets) and X-Line-Retry-Key memory, as LINE documents them
(shared/reference/line-platform.md §2.4 and §3). Limits are per channel: one bucket per endpoint
for the whole emulator, whatever the number of clients."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

HOUR, MINUTE, SECOND = 3600.0, 60.0, 1.0

# operationId → limit group. Everything not listed is in "default" (2,000 requests/s).
GROUPS: dict[str, str] = {
    "multicast": "multicast",
    "narrowcast": "narrowcast", "broadcast": "broadcast",
    "createRichMenu": "createRichMenu", "deleteRichMenu": "deleteRichMenu",
    "deleteRichMenuAlias": "deleteRichMenuAlias", "getRichMenuBatchProgress": "getRichMenuBatchProgress",
    "richMenuBatch": "richMenuBatch",
    "getRichMenuList": "getRichMenuList",
    "showLoadingAnimation": "showLoadingAnimation",
    "getWebhookEndpoint": "webhookEndpoint", "setWebhookEndpoint": "webhookEndpoint",
    "testWebhookEndpoint": "testWebhookEndpoint",
}
for _op in ("getNumberOfMessageDeliveries", "getNumberOfFollowers", "getFriendsDemographics", "getMessageEvent",
            "getStatisticsPerUnit", "getRichMenuInsightSummary", "getRichMenuInsightDaily"):
    GROUPS[_op] = _op
for _op in ("createAudienceGroup", "addAudienceToAudienceGroup", "createAudienceForUploadingUserIds",
            "addUserIdsToAudience", "createClickBasedAudienceGroup", "createImpBasedAudienceGroup",
            "updateAudienceGroupDescription", "deleteAudienceGroup", "getAudienceData", "getAudienceGroups",
            "getSharedAudienceData", "getSharedAudienceGroups"):
    GROUPS[_op] = _op

# group → (requests, per seconds)
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    "default": (2000, SECOND),
    "multicast": (200, SECOND),
    "narrowcast": (60, HOUR), "broadcast": (60, HOUR),
    "createRichMenu": (100, HOUR), "deleteRichMenu": (100, HOUR), "deleteRichMenuAlias": (100, HOUR),
    "getRichMenuBatchProgress": (100, HOUR),
    "richMenuBatch": (3, HOUR),
    "getRichMenuList": (10, SECOND),
    "showLoadingAnimation": (100, SECOND),
    "webhookEndpoint": (1000, MINUTE), "testWebhookEndpoint": (60, HOUR),
    **{group: (60, HOUR) for group in ("getNumberOfMessageDeliveries", "getNumberOfFollowers",
                                       "getFriendsDemographics", "getMessageEvent", "getStatisticsPerUnit",
                                       "getRichMenuInsightSummary", "getRichMenuInsightDaily")},
    **{group: (60, MINUTE) for group in GROUPS.values() if "udience" in group},
}

_UNITS = {"s": SECOND, "sec": SECOND, "m": MINUTE, "min": MINUTE, "h": HOUR, "hour": HOUR}
_LIMIT = re.compile(r"^\s*([\w-]+)\s*=\s*(\d+(?:\.\d+)?)\s*/\s*(\w+)\s*$")


def parse_limit(text: str) -> tuple[str, float, float]:
    """``"multicast=5/s"`` → ("multicast", 5, 1.0)."""
    found = _LIMIT.match(text)
    if not found or found.group(3) not in _UNITS:
        raise ValueError(f"rate limit {text!r} is not NAME=COUNT/s|m|h")
    return found.group(1), float(found.group(2)), _UNITS[found.group(3)]


def group_of(operation_id: str) -> str:
    return GROUPS.get(operation_id, "default")


@dataclass
class _Bucket:
    capacity: float
    refill_per_second: float
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per group: ``capacity`` requests at once, refilled continuously (LINE: "the
    rate limit is applied by a token bucket that refills gradually")."""

    def __init__(self, overrides: dict[str, tuple[float, float]] | None = None) -> None:
        self._lock = threading.Lock()
        self._limits = dict(DEFAULT_LIMITS)
        self._limits.update(overrides or {})
        self._buckets: dict[str, _Bucket] = {}

    def set_limit(self, group: str, count: float, per_seconds: float) -> None:
        with self._lock:
            self._limits[group] = (count, per_seconds)
            self._buckets.pop(group, None)

    def limits(self) -> dict[str, str]:
        with self._lock:
            return {group: f"{count:g}/{per:g}s" for group, (count, per) in sorted(self._limits.items())}

    def allow(self, group: str) -> bool:
        now = time.monotonic()
        with self._lock:
            count, per = self._limits.get(group, self._limits["default"])
            bucket = self._buckets.get(group)
            if bucket is None:
                bucket = self._buckets[group] = _Bucket(count, count / per, count, now)
            bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.updated) * bucket.refill_per_second)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return True
            return False

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


RETRY_KEY_OPERATIONS = frozenset({"pushMessage", "multicast", "narrowcast", "broadcast"})
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def retry_key_valid(key: str) -> bool:
    return bool(_UUID.match(key))


@dataclass
class Accepted:
    request_id: str
    at: float
    sent_messages: list[dict[str, str]] | None


class RetryKeys:
    """Accepted retry keys, remembered ``ttl`` seconds (LINE: 24 hours)."""

    def __init__(self, ttl: float = 24 * HOUR) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._keys: dict[str, Accepted] = {}
        self._in_flight: set[str] = set()

    def begin(self, key: str) -> Accepted | bool | None:
        """The accepted request for ``key``; False if another request with it is in flight; None to go on."""
        now = time.time()
        with self._lock:
            accepted = self._keys.get(key)
            if accepted is not None and now - accepted.at < self.ttl:
                return accepted
            if key in self._in_flight:
                return False
            self._in_flight.add(key)
            return None

    def get(self, key: str) -> Accepted | None:
        """The request that spent ``key``, while it is remembered."""
        with self._lock:
            accepted = self._keys.get(key)
        return accepted if accepted is not None and time.time() - accepted.at < self.ttl else None

    def finish(self, key: str, accepted: Accepted | None) -> None:
        with self._lock:
            self._in_flight.discard(key)
            if accepted is not None:
                self._keys[key] = accepted

    def reset(self) -> None:
        with self._lock:
            self._keys.clear()
            self._in_flight.clear()
