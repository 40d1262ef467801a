"""``dispatcher-sender``: consumes ``dispatcher.send-jobs`` and sends each job concurrently.

The queue has a single active consumer: of all sender replicas one consumes, the others stand by and take
over when it goes (its unacknowledged jobs come back to the new one). The active one keeps the channel's
whole multicast budget (``MULTICAST_RATE``, under LINE's 200/s) with one token bucket, and runs up to
``SEND_CONCURRENCY`` jobs at once. A job's message is acknowledged only after the job is settled (or found
settled, or its send paused): a crash before that brings it back, and the retry key makes the repeat a 409.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import pika
from cityline_common.amqp.topology import declare
from cityline_common.contracts import ContractViolation
from cityline_common.db import check_schema
from cityline_common.tracing import setup_tracing
from cityline_common.web import ReadinessCheck, add_http_port_option, bootstrap_from_environment, serve_worker_endpoints

from dispatcher.bootstrap import DispatcherService, bootstrap
from dispatcher.config import Settings
from dispatcher.contracts import SendJobQueued
from dispatcher.manifest import MANIFEST, SEND_JOBS_QUEUE
from dispatcher.service_layer.sending import RateLimiter, SendLoop

log = logging.getLogger(__name__)
PROCESS = "dispatcher-sender"


class Sender:
    def __init__(self, service: DispatcherService, loop: SendLoop, concurrency: int) -> None:
        self._service = service
        self._loop = loop
        self._concurrency = concurrency
        self._queue = MANIFEST.subscription(SEND_JOBS_QUEUE).declaration()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send")
        self.consuming = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._consume()
                backoff = 0.5
            except (pika.exceptions.AMQPError, OSError) as exc:
                self.consuming.clear()
                log.warning("sender lost the broker; reconnecting", extra={"error": type(exc).__name__})
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
        self._pool.shutdown(wait=True)

    def _consume(self) -> None:
        params = pika.URLParameters(self._service.settings.amqp_url)
        params.heartbeat = 15
        params.client_properties = {"connection_name": PROCESS}
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            declare(channel, (self._queue,))
            channel.basic_qos(prefetch_count=self._concurrency)
            channel.basic_consume(self._queue.name, partial(self._on_message, connection))
            self.consuming.set()
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.2)
        finally:
            self.consuming.clear()
            if connection.is_open:
                connection.close()

    def _on_message(self, connection: Any, channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        try:
            job = SendJobQueued.parse(body)
        except ContractViolation as exc:
            log.error("send job refused: dead-lettered", extra={"reason": str(exc)[:300]})
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        future = self._pool.submit(self._loop.run, job)
        future.add_done_callback(lambda done: connection.add_callback_threadsafe(
            partial(self._settle, channel, method.delivery_tag, job, done)))

    @staticmethod
    def _settle(channel: Any, tag: int, job: SendJobQueued, done: Future[str]) -> None:
        if not channel.is_open:
            return  # the broker hands the job to whoever consumes next
        error = done.exception()
        if error is None and done.result() == "unknown":
            # Not a job of this database (another city's, or a send deleted since): dead-lettered with the
            # reason, never acknowledged as if it had been sent.
            log.error("send job unknown here: dead-lettered", extra={"send": str(job.send_id), "job": job.number})
            channel.basic_reject(tag, requeue=False)
            return
        if error is None:
            channel.basic_ack(tag)
            return
        log.warning("send job not finished; it comes back", extra={"send": str(job.send_id), "job": job.number,
                                                                    "error": f"{type(error).__name__}: {error}"[:300]})
        time.sleep(0.5)  # a broken dependency: do not spin on it
        channel.basic_nack(tag, requeue=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Send dispatcher's jobs (multicast) at the channel's pace.")
    add_http_port_option(parser)
    args = parser.parse_args(argv)
    service = bootstrap_from_environment(PROCESS, Settings, partial(bootstrap, pool_size=4))
    setup_tracing(PROCESS)
    settings = service.settings
    os.nice(settings.sender_nice)
    loop = SendLoop(service.bus, service.ports.recipients, service.ports.line, RateLimiter(settings.multicast_rate),
                    clock=service.ports.clock)
    sender = Sender(service, loop, settings.send_concurrency)

    def consuming() -> None:
        if not sender.consuming.is_set():
            raise RuntimeError(f"not connected to {SEND_JOBS_QUEUE}")

    checks: dict[str, ReadinessCheck] = {"database": partial(check_schema, service.engine, MANIFEST.schema),
                                         "broker": consuming}
    serve_worker_endpoints(PROCESS, checks, args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: sender.stop())
    signal.signal(signal.SIGINT, lambda *_: sender.stop())
    sender.run()
