"""Accept one webhook request: verify, split, publish durably, and say what to answer LINE."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cityline_common.amqp import OutboundMessage, PublishError
from cityline_common.amqp.topology import LINE_EVENTS
from cityline_common.tracing import inject_headers

from ingress_webhook.domain.webhook import EventEnvelope, InvalidWebhook, parse_webhook, signature_valid

log = logging.getLogger(__name__)

PublishAll = Callable[[Sequence[OutboundMessage]], list[PublishError | None]]


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    events: int = 0
    reason: str = ""


def to_message(envelope: EventEnvelope) -> OutboundMessage:
    return OutboundMessage(
        exchange=LINE_EVENTS,
        routing_key=envelope.routing_key,
        body=envelope.body(),
        # The webhook event id is the message id: every consumer de-duplicates on it.
        message_id=envelope.webhook_event_id,
        type=f"line.webhook.{envelope.event_type}",
        headers=inject_headers({"x-line-redelivery": envelope.is_redelivery,
                                "x-line-mode": "standby" if envelope.standby else "active"}),
    )


def accept_webhook(body: bytes, signatures: list[str], channel_secret: bytes, publish_all: PublishAll) -> Result:
    if not signatures:
        return Result(Outcome.SIGNATURE_MISSING)
    if len(signatures) != 1 or not signature_valid(channel_secret, body, signatures[0]):
        return Result(Outcome.SIGNATURE_INVALID)
    try:
        envelopes = parse_webhook(body)
    except InvalidWebhook as exc:
        return Result(Outcome.INVALID, reason=str(exc))
    if not envelopes:
        return Result(Outcome.ACCEPTED)  # LINE's connectivity check: events: []
    errors = publish_all([to_message(envelope) for envelope in envelopes])
    failed = [error for error in errors if error is not None]
    if failed:
        # Some events may be in the broker already; LINE's redelivery brings the whole request
        # back and the duplicates collapse on webhookEventId downstream.
        log.warning("webhook not accepted: broker did not confirm",
                    extra={"events": len(envelopes), "failed": len(failed), "error": str(failed[0])[:200]})
        return Result(Outcome.UNAVAILABLE, events=len(envelopes), reason="broker unavailable")
    return Result(Outcome.ACCEPTED, events=len(envelopes))
