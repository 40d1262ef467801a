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


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def parse_webhook(body: bytes) -> list[EventEnvelope]:
    """Split a verified body into envelopes; raise :class:`InvalidWebhook` with a reason."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidWebhook("body is not UTF-8 JSON") from None
    if not _storable(payload):
        # PostgreSQL (the spool) and UTF-8 consumers cannot hold these; LINE never sends them.
        raise InvalidWebhook("body contains NUL characters or unpaired UTF-16 surrogates")
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
        context = event.get("deliveryContext")
        redelivery = isinstance(context, dict) and context.get("isRedelivery") is True
        envelopes.append(
            EventEnvelope(
                destination=destination,
                webhook_event_id=event_id,
                event_type=event_type,
                is_redelivery=redelivery,
                standby=event.get("mode") == "standby",
                event=event,
            )
        )
    return envelopes
