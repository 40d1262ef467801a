"""Accept one webhook request: verify, de-duplicate, publish durably, and say what to answer LINE.

Order of work (why each step is where it is):
1. Signature on the raw bytes, before anything parses them.
2. Parse and check the body (400 with the reason when it is not a LINE webhook), and refuse events
   older than the de-duplication window: their ids may have left the record, so taking them again
   could deliver a replay twice. They are counted and dropped; the rest of the request goes on and
   LINE hears 200, so it does not retry them. Steps 1-2 (and sealing each event) run on the
   request's own thread: one request's bad body never affects another.
3. The request is handed to the *taker* (``Ingress.take``). The deployed one batches the requests
   that arrive together (group commit, :class:`ingress_webhook.adapters.batcher.GroupCommit`) and
   runs :meth:`Taker.take_batch` once for all of them; the unit tests hand each request over on
   its own (:meth:`Taker.take_one`). For each batch, in ONE transaction:
   a. claim every webhookEventId of the batch in ingress's database (the de-duplication record).
      An id already there is a duplicate; an id carried by several requests of the batch (a
      redelivery racing its original) is taken once, by the first. The claim commits only with
      the outcome below, so a failed attempt never hides a redelivery;
   b. publish the new events with publisher confirms under one deadline: PUBLISH_TIMEOUT_SECONDS
      after the batch's earliest request arrived, so waiting for a batch never adds to LINE's budget;
   c. events the broker did not confirm go to the durable spool (ingress's outbox) in the same
      transaction, and the outbox relay publishes them when the broker is back — or, with the
      spool turned off, the requests they belong to (and any request of the batch that counted on
      one of their events) are answered 503 and their claims released, so LINE's redelivery brings
      them back and is taken;
   d. commit once; each request then gets its own result (its events, duplicates, spooled).
4. 200 for accepted, duplicate, spooled or too old; 503 when the event could be kept nowhere.
If the database itself is unavailable, events are published without de-duplication (consumers
are idempotent on webhookEventId anyway) rather than refusing LINE.

Every event leaves sealed (:class:`cityline_common.line_events.LineWebhookEvent`): the broker, its
dead letters and the spool never hold a LINE user id or a resident's words in clear.

The handler leaves the bus's unit of work untouched (its connection is never taken): the taker
runs each batch in a unit of work of its own, whose commit is the moment its requests are accepted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from cityline_common.amqp import OutboundMessage, PublishError
from cityline_common.crypto import FieldCipher
from cityline_common.line_events import LineWebhookEvent
from cityline_common.messagebus import Handlers
from cityline_common.tracing import inject_headers
from sqlalchemy.exc import SQLAlchemyError

from ingress_webhook import metrics
from ingress_webhook.domain.commands import AcceptWebhook, Outcome, Result
from ingress_webhook.domain.webhook import (
    EventEnvelope,
    InvalidWebhook,
    oldest_acceptable_ms,
    parse_webhook,
    signature_valid,
)
from ingress_webhook.service_layer.unit_of_work import AbstractIngressUnitOfWork

log = logging.getLogger(__name__)

PublishAll = Callable[[Sequence[OutboundMessage], float], list[PublishError | None]]
"""Publish with confirms; ``None`` per confirmed message, else its error. The float bounds the whole call."""


@dataclass(frozen=True)
class SealedEvent:
    """One event ready to leave: the envelope, its sealed contract (for the spool) and the message."""

    envelope: EventEnvelope
    contract: LineWebhookEvent
    message: OutboundMessage

    @property
    def webhook_event_id(self) -> str:
        return self.envelope.webhook_event_id


@dataclass(frozen=True)
class VerifiedRequest:
    """A signed, well-formed request's events, sealed, and when it arrived (``time.monotonic()``)."""

    events: tuple[SealedEvent, ...]
    arrived: float = field(default_factory=time.monotonic)


TakeRequest = Callable[[VerifiedRequest], Result]
"""The port the handler hands a verified request to: de-duplicate, publish, keep, answer."""


@dataclass(frozen=True)
class Ingress:
    """What accepting a webhook needs from the outside world."""

    channel_secret: bytes
    cipher: FieldCipher
    take: TakeRequest
    dedupe_window: timedelta = timedelta(hours=72)
    clock: Callable[[], float] = time.time  # wall clock: LINE's timestamps are epoch milliseconds


def accept_webhook(ingress: Ingress) -> Callable[[AcceptWebhook, AbstractIngressUnitOfWork], Result]:
    def handler(command: AcceptWebhook, uow: AbstractIngressUnitOfWork) -> Result:
        arrived = time.monotonic()
        result = _verify(command.body, command.signatures, ingress.channel_secret)
        if result is None:
            try:
                envelopes = parse_webhook(command.body)
            except InvalidWebhook as exc:
                result = Result(Outcome.INVALID, reason=str(exc))
            else:
                result = _accept(envelopes, ingress, arrived)
        metrics.REQUESTS_BY_OUTCOME[result.outcome].inc()
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


def _accept(envelopes: list[EventEnvelope], ingress: Ingress, arrived: float) -> Result:
    oldest = oldest_acceptable_ms(ingress.clock(), ingress.dedupe_window)
    current = [envelope for envelope in envelopes if envelope.timestamp_ms >= oldest]
    too_old = len(envelopes) - len(current)
    if too_old:
        metrics.EVENTS_TOO_OLD.inc(too_old)
        log.warning("refused webhook events older than the de-duplication window (replays?)",
                    extra={"events": too_old, "window_hours": ingress.dedupe_window.total_seconds() / 3600})
    if not current:
        # An empty list is LINE's connectivity check: answer 200, publish nothing.
        return Result(Outcome.TOO_OLD, too_old=too_old) if too_old else Result(Outcome.ACCEPTED)
    # No span of its own: the request's span covers this, and its context travels with each event.
    result = ingress.take(seal(current, ingress.cipher, arrived))
    return replace(result, too_old=too_old) if too_old else result


def seal(envelopes: Sequence[EventEnvelope], cipher: FieldCipher, arrived: float) -> VerifiedRequest:
    """The request as the taker gets it: each event sealed, with this request's trace context (the
    batch it joins is taken on another thread)."""
    context = inject_headers()
    return VerifiedRequest(tuple(_seal(envelope, cipher, context) for envelope in envelopes), arrived)


def _headers(envelope: EventEnvelope) -> dict[str, object]:
    return {"x-line-redelivery": envelope.is_redelivery, "x-line-mode": "standby" if envelope.standby else "active"}


_EXCHANGE = LineWebhookEvent.contract.exchange
_MESSAGE_TYPE = LineWebhookEvent.message_type()


def _seal(envelope: EventEnvelope, cipher: FieldCipher, context: dict[str, object]) -> SealedEvent:
    contract = envelope.sealed(cipher)
    # What ``contract.outbound()`` builds, without its generic routing-key formatting (a model-to-dict
    # round trip per message on the hot path): the envelope knows its routing key (the unit tests
    # hold the two to the same message). The webhook event id is the message id: every consumer
    # de-duplicates on it.
    message = OutboundMessage(
        exchange=_EXCHANGE, routing_key=envelope.routing_key, body=contract.model_dump_json(by_alias=True).encode(),
        message_id=envelope.webhook_event_id, type=_MESSAGE_TYPE, headers={**context, **_headers(envelope)},
    )
    return SealedEvent(envelope, contract, message)


class _DatabaseState:
    """When the database last failed a batch: for ``Taker.database_retry`` seconds after that,
    batches go straight to the no-database path instead of each waiting for the same failure
    (a connect timeout to an unreachable host would cost every batch 2 s of LINE's budget)."""

    def __init__(self) -> None:
        self.skip_until = 0.0


@dataclass(frozen=True)
class Taker:
    """Takes verified requests — one, or a batch of them in one transaction (group commit)."""

    uow_factory: Callable[[], AbstractIngressUnitOfWork]
    publish_all: PublishAll
    spool: bool
    publish_timeout: float = 1.0
    database_retry: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _database: _DatabaseState = field(default_factory=_DatabaseState, repr=False, compare=False)

    def take_one(self, request: VerifiedRequest) -> Result:
        return self.take_batch([request])[0]

    def take_batch(self, requests: Sequence[VerifiedRequest]) -> list[Result]:
        """Each request's result, in order. See the module docstring, step 3."""
        if self.clock() < self._database.skip_until:
            return self._take_without_database(requests, "failed less than a moment ago")
        deadline = min(request.arrived for request in requests) + self.publish_timeout
        error: SQLAlchemyError
        with self.uow_factory() as uow:
            try:
                return self._take(requests, uow, deadline)
            except SQLAlchemyError as exc:
                uow.rollback()
                error = exc
        self._database.skip_until = self.clock() + self.database_retry
        return self._take_without_database(requests, str(error)[:200])  # with the connection back in the pool

    def _take(self, requests: Sequence[VerifiedRequest], uow: AbstractIngressUnitOfWork,
              deadline: float) -> list[Result]:
        # Sorted: two batches claiming the same ids lock them in the same order (no deadlock).
        fresh_ids = uow.seen.claim(sorted({event.webhook_event_id for each in requests for event in each.events}))
        owner: dict[str, int] = {}  # fresh id -> the request of this batch that takes it
        fresh: list[list[SealedEvent]] = [[] for _ in requests]
        for index, request in enumerate(requests):
            for event in request.events:  # a repeat, in this request or an earlier one, is a duplicate
                if event.webhook_event_id in fresh_ids and event.webhook_event_id not in owner:
                    owner[event.webhook_event_id] = index
                    fresh[index].append(event)
        outgoing = [event for events in fresh for event in events]
        errors = self._publish(outgoing, max(0.0, deadline - self.clock())) if outgoing else []
        unconfirmed_ids = {event.webhook_event_id for event, error in zip(outgoing, errors, strict=True) if error}
        unconfirmed = [[event for event in events if event.webhook_event_id in unconfirmed_ids] for events in fresh]
        failed: set[int] = set()
        if unconfirmed_ids and not self.spool:
            failed = _failed_requests(requests, unconfirmed, owner)
            uow.seen.release([event.webhook_event_id for index in sorted(failed) for event in fresh[index]])
        elif unconfirmed_ids:
            uow.require_durable_commit()
            for event in outgoing:
                if event.webhook_event_id in unconfirmed_ids:
                    uow.emit(event.contract, message_id=event.webhook_event_id, headers=event.message.headers)
        uow.commit()
        if unconfirmed_ids and self.spool:
            metrics.EVENTS_SPOOLED.inc(len(unconfirmed_ids))
        return [_result(request, fresh[index], unconfirmed[index], failed=index in failed)
                for index, request in enumerate(requests)]

    def _take_without_database(self, requests: Sequence[VerifiedRequest], error: str) -> list[Result]:
        metrics.DEDUPE_SKIPPED.inc(len(requests))
        log.warning("database unavailable: publishing without de-duplication",
                    extra={"requests": len(requests), "error": error})
        # A fresh deadline: the database may have failed only after the first one ran out (at commit).
        errors = self._publish([event for request in requests for event in request.events], self.publish_timeout)
        results: list[Result] = []
        position = 0
        for request in requests:
            mine = errors[position:position + len(request.events)]
            position += len(request.events)
            if any(mine):
                results.append(Result(Outcome.UNAVAILABLE, reason="broker and database unavailable"))
            else:
                metrics.count_events(event.envelope.metric_type for event in request.events)
                results.append(Result(Outcome.ACCEPTED, events=len(request.events)))
        return results

    def _publish(self, events: Sequence[SealedEvent], timeout: float) -> list[PublishError | None]:
        started = time.perf_counter()
        errors = self.publish_all([event.message for event in events], timeout)
        metrics.PUBLISH_DURATION.observe(time.perf_counter() - started)
        failed = [error for error in errors if error is not None]
        if failed:
            log.warning("broker did not confirm webhook events",
                        extra={"events": len(events), "unconfirmed": len(failed), "error": str(failed[0])[:200]})
        return errors


def _failed_requests(requests: Sequence[VerifiedRequest], unconfirmed: list[list[SealedEvent]],
                     owner: dict[str, int]) -> set[int]:
    """Without the spool: the requests to answer 503 — those with an unconfirmed event, and those
    told "duplicate" for an event such a request owned (they would lose it otherwise)."""
    failed = {index for index, events in enumerate(unconfirmed) if events}
    grown = True
    while grown:
        before = len(failed)
        failed |= {index for index, request in enumerate(requests) if index not in failed and any(
            owner.get(event.webhook_event_id) in failed for event in request.events)}
        grown = len(failed) > before
    return failed


def _result(request: VerifiedRequest, fresh: list[SealedEvent], unconfirmed: list[SealedEvent], *,
            failed: bool) -> Result:
    duplicates = len(request.events) - len(fresh)
    if duplicates:
        metrics.DUPLICATES_DROPPED.inc(duplicates)
    if failed:
        return Result(Outcome.UNAVAILABLE, reason="broker unavailable")
    if not fresh:
        return Result(Outcome.DUPLICATE, duplicates=duplicates)
    metrics.count_events(event.envelope.metric_type for event in fresh)
    spooled = len(unconfirmed)
    return Result(Outcome.SPOOLED if spooled else Outcome.ACCEPTED, events=len(fresh), duplicates=duplicates,
                  spooled=spooled)
