"""Accept one webhook request: verify, de-duplicate, publish durably, and say what to answer LINE.

Order of work (why each step is where it is):
1. Signature on the raw bytes, before anything parses them.
2. Claim the request's webhookEventIds in ingress's database (the de-duplication record); the
   claim commits only together with the outcome below, so a failed attempt never hides a redelivery.
3. Publish the new events with publisher confirms.
4. Events the broker did not confirm go to the durable spool (ingress's outbox) in the same
   transaction, and the outbox relay publishes them when the broker is back — or, with the spool
   turned off, the whole request is answered 503 so LINE's redelivery brings it back.
5. Commit, then answer 200.
If the database itself is unavailable, events are published without de-duplication (consumers
are idempotent on webhookEventId anyway) rather than refusing LINE.

Every event leaves sealed (:class:`cityline_common.line_events.LineWebhookEvent`): the broker, its
dead letters and the spool never hold a LINE user id or a resident's words in clear.

Unlike other handlers this one commits itself: the commit is the moment the request is accepted,
and its failure must still be answered (the bus's commit after it is then a no-op).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cityline_common.amqp import OutboundMessage, PublishError
from cityline_common.crypto import FieldCipher
from cityline_common.line_events import LineWebhookEvent
from cityline_common.messagebus import Handlers
from cityline_common.tracing import inject_headers
from opentelemetry import trace
from sqlalchemy.exc import SQLAlchemyError

from ingress_webhook import metrics
from ingress_webhook.domain.commands import AcceptWebhook, Outcome, Result
from ingress_webhook.domain.webhook import EventEnvelope, InvalidWebhook, parse_webhook, signature_valid
from ingress_webhook.service_layer.unit_of_work import AbstractIngressUnitOfWork

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

PublishAll = Callable[[Sequence[OutboundMessage]], list[PublishError | None]]


def _headers(envelope: EventEnvelope) -> dict[str, object]:
    return {"x-line-redelivery": envelope.is_redelivery, "x-line-mode": "standby" if envelope.standby else "active"}


def _publish(sealed: Sequence[tuple[EventEnvelope, LineWebhookEvent]], publish_all: PublishAll) -> list[int]:
    """Publish and return the positions the broker did not confirm."""
    started = time.perf_counter()
    with _tracer.start_as_current_span("publish line events", kind=trace.SpanKind.PRODUCER) as span:
        span.set_attribute("messaging.batch.message_count", len(sealed))
        # The webhook event id is the message id: every consumer de-duplicates on it.
        errors = publish_all([
            message.outbound(envelope.webhook_event_id, inject_headers(_headers(envelope)))
            for envelope, message in sealed
        ])
    metrics.PUBLISH_DURATION.observe(time.perf_counter() - started)
    failed = [position for position, error in enumerate(errors) if error is not None]
    if failed:
        first = next(error for error in errors if error is not None)
        log.warning("broker did not confirm webhook events",
                    extra={"events": len(sealed), "unconfirmed": len(failed), "error": str(first)[:200]})
    return failed


@dataclass(frozen=True)
class Ingress:
    """What accepting a webhook needs from the outside world."""

    channel_secret: bytes
    publish_all: PublishAll
    cipher: FieldCipher
    spool: bool


def accept_webhook(ingress: Ingress) -> Callable[[AcceptWebhook, AbstractIngressUnitOfWork], Result]:
    def handler(command: AcceptWebhook, uow: AbstractIngressUnitOfWork) -> Result:
        result = _verify(command.body, command.signatures, ingress.channel_secret)
        if result is None:
            try:
                envelopes = parse_webhook(command.body)
            except InvalidWebhook as exc:
                result = Result(Outcome.INVALID, reason=str(exc))
            else:
                # An empty list is LINE's connectivity check: answer 200, publish nothing.
                result = _take(envelopes, ingress, uow) if envelopes else Result(Outcome.ACCEPTED)
        metrics.WEBHOOK_REQUESTS.labels(result.outcome.value).inc()
        return result

    return handler


def handlers(ingress: Ingress) -> Handlers[AbstractIngressUnitOfWork]:
    return Handlers[AbstractIngressUnitOfWork]().command(AcceptWebhook, accept_webhook(ingress))


def _verify(body: bytes, signatures: tuple[str, ...], channel_secret: bytes) -> Result | None:
    if not signatures:
        metrics.SIGNATURE_FAILURES.labels("missing").inc()
        return Result(Outcome.SIGNATURE_MISSING)
    if len(signatures) != 1 or not signature_valid(channel_secret, body, signatures[0]):
        metrics.SIGNATURE_FAILURES.labels("invalid").inc()
        return Result(Outcome.SIGNATURE_INVALID)
    return None


def _take(envelopes: list[EventEnvelope], ingress: Ingress, uow: AbstractIngressUnitOfWork) -> Result:
    try:
        fresh_ids = uow.seen.claim(envelope.webhook_event_id for envelope in envelopes)
        fresh: list[EventEnvelope] = []
        for envelope in envelopes:  # a repeat inside one request is a duplicate too
            if envelope.webhook_event_id in fresh_ids:
                fresh.append(envelope)
                fresh_ids.discard(envelope.webhook_event_id)
        duplicates = len(envelopes) - len(fresh)
        metrics.DUPLICATES_DROPPED.inc(duplicates)
        if not fresh:
            return Result(Outcome.DUPLICATE, events=0, duplicates=duplicates)
        sealed = [(envelope, envelope.sealed(ingress.cipher)) for envelope in fresh]
        unconfirmed = [sealed[position] for position in _publish(sealed, ingress.publish_all)]
        if unconfirmed and not ingress.spool:
            uow.rollback()  # the claims go: LINE's redelivery may bring the events back
            return Result(Outcome.UNAVAILABLE, reason="broker unavailable")
        if unconfirmed:
            uow.require_durable_commit()
        for envelope, message in unconfirmed:
            uow.emit(message, message_id=envelope.webhook_event_id, headers=_headers(envelope))
        uow.commit()
    except SQLAlchemyError as exc:
        uow.rollback()
        return _accept_without_database(envelopes, ingress, exc)
    for envelope in fresh:
        metrics.WEBHOOK_EVENTS.labels(envelope.metric_type).inc()
    metrics.EVENTS_SPOOLED.inc(len(unconfirmed))
    outcome = Outcome.SPOOLED if unconfirmed else Outcome.ACCEPTED
    return Result(outcome, events=len(fresh), duplicates=duplicates, spooled=len(unconfirmed))


def _accept_without_database(envelopes: list[EventEnvelope], ingress: Ingress, error: Exception) -> Result:
    metrics.DEDUPE_SKIPPED.inc()
    log.warning("database unavailable: publishing without de-duplication", extra={"error": str(error)[:200]})
    if _publish([(envelope, envelope.sealed(ingress.cipher)) for envelope in envelopes], ingress.publish_all):
        return Result(Outcome.UNAVAILABLE, reason="broker and database unavailable")
    for envelope in envelopes:
        metrics.WEBHOOK_EVENTS.labels(envelope.metric_type).inc()
    return Result(Outcome.ACCEPTED, events=len(envelopes))
