"""LINE webhook requests: signature check and splitting into per-event envelopes. No I/O.

Rules (shared/reference/line-platform.md §1): the signature is Base64(HMAC-SHA256(channel secret,
raw body)) and must be checked on the raw bytes before anything parses them; new event types and
fields arrive without notice and must pass through untouched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cityline_common.crypto import FieldCipher
from cityline_common.line_events import LineWebhookEvent

_EVENT_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

# Event types of LINE's webhook.yml (plus messageEdited, 2026). Others still pass through under their
# own routing key; this list only keeps metric labels bounded.
KNOWN_EVENT_TYPES = frozenset({
    "message", "messageEdited", "unsend", "follow", "unfollow", "join", "leave", "memberJoined", "memberLeft",
    "postback", "videoPlayComplete", "beacon", "accountLink", "membership", "module", "activated",
    "deactivated", "botSuspended", "botResumed", "delivery",
})


# LINE's deepest documented event (a message with emojis or mentions) nests about 6 levels; a body
# nested deeper is refused before anything walks or re-encodes it recursively.
MAX_DEPTH = 64

# How far LINE's clock may run ahead of ours. An event is taken only while its id is certain to be
# in the de-duplication record had it been taken before: ids stay there DEDUPE_WINDOW_HOURS after
# they were *received*, which is at or after the event's timestamp give or take this skew, so the
# cut-off is the window minus the skew.
CLOCK_SKEW = timedelta(minutes=5)


class InvalidWebhook(ValueError):
    """The body is signed correctly but is not a LINE webhook request we can forward."""


def signature_valid(channel_secret: bytes, body: bytes, signature: str) -> bool:
    expected = base64.b64encode(hmac.new(channel_secret, body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode("ascii", "replace"))


@dataclass(frozen=True)
class EventEnvelope:
    """One webhook event on its way to the broker, with the request context consumers need."""

    destination: str
    webhook_event_id: str
    event_type: str
    is_redelivery: bool
    standby: bool
    timestamp_ms: int  # LINE's time of the event, milliseconds since the epoch
    event: dict[str, Any]  # exactly as LINE sent it

    @property
    def routing_key(self) -> str:
        return f"line.event.{self.event_type}"

    @property
    def metric_type(self) -> str:
        return self.event_type if self.event_type in KNOWN_EVENT_TYPES else "other"

    def sealed(self, cipher: FieldCipher) -> LineWebhookEvent:
        """The message consumers receive: routing fields in clear, the event itself sealed."""
        return LineWebhookEvent.seal(
            cipher, destination=self.destination, webhook_event_id=self.webhook_event_id,
            event_type=self.event_type, is_redelivery=self.is_redelivery, standby=self.standby, event=self.event,
        )


def _unstorable(value: Any) -> str | None:
    """Why PostgreSQL (the spool) or a UTF-8 consumer could not hold this document, if it cannot.

    Iterative, so the depth check itself cannot run out of stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "body contains NUL characters or unpaired UTF-16 surrogates"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "body contains NUL characters or unpaired UTF-16 surrogates"
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return f"body is nested deeper than {MAX_DEPTH} levels"
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((each, depth + 1) for each in item.values())
            else:
                stack.extend((each, depth + 1) for each in item)
    return None


def _load(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidWebhook("body is not UTF-8 JSON") from None
    except RecursionError:  # Python's parser recurses per level: thousands of [[[[ exhaust it
        raise InvalidWebhook(f"body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # CPython refuses to convert integers of more than 4,300 digits (CVE-2020-10735)
        raise InvalidWebhook("body holds a number too long to read (over 4,300 digits)") from None


def parse_webhook(body: bytes) -> list[EventEnvelope]:
    """Split a verified body into envelopes; raise :class:`InvalidWebhook` with a reason."""
    payload = _load(body)
    problem = _unstorable(payload)
    if problem is not None:  # LINE never sends these
        raise InvalidWebhook(problem)
    if not isinstance(payload, dict):
        raise InvalidWebhook("body is not a JSON object")
    destination = payload.get("destination")
    events = payload.get("events")
    if not isinstance(destination, str) or not destination:
        raise InvalidWebhook("destination is missing")
    if not isinstance(events, list):
        raise InvalidWebhook("events is not a list")
    envelopes = []
    for position, event in enumerate(events):
        if not isinstance(event, dict):
            raise InvalidWebhook(f"events[{position}] is not an object")
        event_type = event.get("type")
        event_id = event.get("webhookEventId")
        if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
            raise InvalidWebhook(f"events[{position}].type is missing or not a plain name")
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 64:
            raise InvalidWebhook(f"events[{position}].webhookEventId is missing")
        timestamp = event.get("timestamp")
        # LINE stamps every event (webhook.yml: required, int64 ms). A signed body without a number
        # here is not LINE's, and an event without one could not be refused as a replay (see
        # oldest_acceptable_ms), so it is refused as malformed rather than taken on trust.
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            raise InvalidWebhook(f"events[{position}].timestamp is missing or not an integer")
        context = event.get("deliveryContext")
        redelivery = isinstance(context, dict) and context.get("isRedelivery") is True
        envelopes.append(
            EventEnvelope(
                destination=destination,
                webhook_event_id=event_id,
                event_type=event_type,
                is_redelivery=redelivery,
                standby=event.get("mode") == "standby",
                timestamp_ms=timestamp,
                event=event,
            )
        )
    return envelopes


def oldest_acceptable_ms(now: float, window: timedelta) -> int:
    """The earliest event timestamp (ms) still taken at ``now`` (epoch seconds).

    An older event may have been taken once already and its id swept from the de-duplication
    record since, so taking it again could deliver it twice: such a replay is refused."""
    return int((now - (window - CLOCK_SKEW).total_seconds()) * 1000)
