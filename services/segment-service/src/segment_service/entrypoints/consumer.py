"""AMQP entrypoint: LINE events from ``segment.line-events`` into the message bus."""

from __future__ import annotations

import argparse
import signal
from functools import partial

from cityline_common.amqp.consumer import Consumer
from cityline_common.amqp.messages import InboundMessage
from cityline_common.amqp.topology import queue
from cityline_common.db import UnitOfWork, check_schema
from cityline_common.logging import configure_logging
from cityline_common.settings import load_settings_or_exit
from cityline_common.tracing import setup_tracing
from cityline_common.web import ReadinessCheck, add_http_port_option, serve_worker_endpoints

from segment_service.adapters.orm import SCHEMA
from segment_service.bootstrap import SegmentService, bootstrap
from segment_service.config import Settings
from segment_service.entrypoints.line_events import to_command

CONSUMER_NAME = "segment-service"


def build_consumer(service: SegmentService) -> Consumer:
    def handle(message: InboundMessage, uow: UnitOfWork) -> None:
        command = to_command(message.json())
        if command is not None:
            service.bus.handle(command, uow)  # type: ignore[arg-type]

    return Consumer(
        url=service.settings.amqp_url,
        queue=queue("segment.line-events"),
        name=CONSUMER_NAME,
        uow_factory=service.uow,
        handler=handle,
        prefetch=service.settings.amqp_prefetch,
        heartbeat=service.settings.amqp_heartbeat_seconds,
    )


def readiness(service: SegmentService, consumer: Consumer) -> dict[str, ReadinessCheck]:
    def consuming() -> None:
        if not consumer.connected.is_set():
            raise RuntimeError(f"not consuming {consumer.queue.name}")

    return {"database": partial(check_schema, service.engine, SCHEMA.schema), "consuming": consuming}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Consume LINE events for segment-service.")
    add_http_port_option(parser)
    args = parser.parse_args(argv)
    settings = load_settings_or_exit(Settings)
    configure_logging("segment-service-consumer", settings.log_level, settings.log_format)
    setup_tracing("segment-service-consumer")
    service = bootstrap(settings)
    consumer = build_consumer(service)
    serve_worker_endpoints("segment-service-consumer", readiness(service, consumer), args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop())
    signal.signal(signal.SIGINT, lambda *_: consumer.stop())
    consumer.run()
