"""LINE webhook events on the ``line.events`` exchange: the envelope contract ingress-webhook
publishes and every consumer of LINE events decodes.

The event itself is exactly what LINE sent (LINE's webhook.yml is its schema), but it carries LINE
user ids and residents' own words, so it travels sealed (AES-GCM, bound to its webhookEventId): the
queue, its dead letters and ingress's spool hold ciphertext only. The envelope's other fields are
what routing and de-duplication need, none of them personal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from cityline_common.amqp.topology import LINE_EVENTS
from cityline_common.contracts import Contract, ContractInfo
from cityline_common.crypto import CryptoError, FieldCipher

LINE_EVENT_IN_TRANSIT = "transit.line_event"


class LineWebhookEvent(Contract):
    """One event of a LINE webhook request, verified and de-duplicated by ingress-webhook."""

    contract = ContractInfo("line.WebhookEvent", 1, LINE_EVENTS, "line.event.{event_type}", binding="line.event.*")

    webhook_event_id: str
    event_type: str
    is_redelivery: bool
    mode: Literal["active", "standby"]
    # Consumers must not reply to standby events (another channel has chat control).
    reply_allowed: bool
    sealed_event: str

    @classmethod
    def seal(
        cls, cipher: FieldCipher, *, destination: str, webhook_event_id: str, event_type: str, is_redelivery: bool,
        standby: bool, event: dict[str, Any],
    ) -> LineWebhookEvent:
        # The destination (the channel's own user id) has a LINE id's shape: it is sealed with the event.
        body = json.dumps({"destination": destination, "event": event}, ensure_ascii=False, separators=(",", ":"))
        return cls(
            webhook_event_id=webhook_event_id, event_type=event_type,
            is_redelivery=is_redelivery, mode="standby" if standby else "active", reply_allowed=not standby,
            sealed_event=cipher.encrypt(body, f"{LINE_EVENT_IN_TRANSIT}:{webhook_event_id}"),
        )

    def open(self, cipher: FieldCipher) -> OpenedLineEvent:
        """The event as LINE sent it. Raises :class:`CryptoError` when it was not sealed for this id."""
        document = json.loads(cipher.decrypt(self.sealed_event, f"{LINE_EVENT_IN_TRANSIT}:{self.webhook_event_id}"))
        if not isinstance(document, dict) or not isinstance(document.get("event"), dict):
            raise CryptoError("the sealed event is not an envelope document")
        return OpenedLineEvent(str(document.get("destination", "")), document["event"])


@dataclass(frozen=True)
class OpenedLineEvent:
    destination: str
    event: dict[str, Any]
