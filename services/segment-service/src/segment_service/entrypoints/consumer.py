"""AMQP entrypoint: LINE events from ``segment.line-events`` into the message bus."""

from __future__ import annotations

import argparse
import logging
import signal
from functools import partial

from cityline_common.amqp.consumer import Consumer, PoisonMessage, contract_handler
from cityline_common.contracts import Contract
from cityline_common.crypto import CryptoError
from cityline_common.db import check_schema
from cityline_common.line_events import LineWebhookEvent
from cityline_common.line_ids import is_line_user_id
from cityline_common.tracing import setup_tracing
from cityline_common.web import (
    ReadinessCheck,
    add_http_port_option,
    bootstrap_from_environment,
    serve_worker_endpoints,
)

from segment_service.bootstrap import SegmentService, bootstrap
from segment_service.config import Settings
from segment_service.domain import commands
from segment_service.domain.chat import InvalidPostback
from segment_service.entrypoints.line_events import to_command
from segment_service.manifest import LINE_EVENTS_QUEUE, MANIFEST
from segment_service.service_layer import chat, greeting
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

log = logging.getLogger(__name__)

CONSUMER_NAME = "segment-service"
PROCESS = "segment-consumer"


def deliver_line_event(service: SegmentService, contract: Contract, uow: AbstractSegmentUnitOfWork) -> None:
    if not isinstance(contract, LineWebhookEvent):
        raise PoisonMessage(f"{contract.message_type()} is not a LINE event")
    try:
        event = contract.open(service.cipher).event
    except CryptoError as exc:
        raise PoisonMessage(f"LINE event does not open: {exc}") from None
    command = to_command(event)
    if isinstance(command, commands.FollowResident):
        outcome = service.bus.dispatch(command, uow)
        greeting.greet_after_commit(uow, service.line, outcome, event, command.line_user_id)
    elif command is not None:
        service.bus.dispatch(command, uow)
    elif event.get("type") in {"message", "postback"}:
        source = event.get("source") or {}
        user_id = source.get("userId") if isinstance(source, dict) and source.get("type") == "user" else None
        if not isinstance(user_id, str) or not is_line_user_id(user_id):
            return  # a group or room, or no sender: 受信設定 is one resident's own
        try:
            chat.handle_event(uow, service.bus, service.line, event, line_user_id=user_id, timezone=service.timezone)
        except InvalidPostback as exc:  # forged or foreign data: changes nothing, answers nothing
            log.info("postback refused", extra={"reason": str(exc)})


def build_consumer(service: SegmentService) -> Consumer[AbstractSegmentUnitOfWork]:
    subscription = MANIFEST.subscription(LINE_EVENTS_QUEUE)
    return Consumer(
        url=service.settings.amqp_url,
        queue=subscription.declaration(),
        name=CONSUMER_NAME,
        uow_factory=service.bus.uow_factory,
        handler=contract_handler(subscription.handles, partial(deliver_line_event, service)),
        prefetch=service.settings.amqp_prefetch,
        heartbeat=service.settings.amqp_heartbeat_seconds,
    )


def readiness(service: SegmentService, consumer: Consumer[AbstractSegmentUnitOfWork]) -> dict[str, ReadinessCheck]:
    return {"database": partial(check_schema, service.engine, MANIFEST.schema), "consuming": consumer.check_consuming}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Consume LINE events for segment-service.")
    add_http_port_option(parser)
    args = parser.parse_args(argv)
    service = bootstrap_from_environment(PROCESS, Settings, bootstrap)
    setup_tracing(PROCESS)
    consumer = build_consumer(service)
    serve_worker_endpoints(PROCESS, readiness(service, consumer), args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop())
    signal.signal(signal.SIGINT, lambda *_: consumer.stop())
    consumer.run()
