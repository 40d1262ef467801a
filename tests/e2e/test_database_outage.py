"""A database outage during a stream of follows: the consumer waits for PostgreSQL instead of burning
the queue's delivery limit, so afterwards the dead-letter queue is empty and every resident is
recorded exactly once.

PostgreSQL is really stopped (as root, like CI) for ``CITYLINE_DB_OUTAGE_SECONDS`` (180 by default:
longer than ten redeliveries with backoff would last) while follows keep arriving. The cluster
stopped is ``CITYLINE_PG_CLUSTER`` (default ``main``, the one CI tests against; a developer whose
machine runs other work on ``main`` can point TEST_DATABASE_ADMIN_URL at a second cluster and name
it here).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from cityline_common.amqp import ConfirmingPublisher
from cityline_common.amqp.topology import declare_with_url
from cityline_common.line_events import LineWebhookEvent
from sqlalchemy import create_engine, text

from testsupport import TEST_KEYS, drain, fixed_cipher, wait_until
from testsupport.processes import RunningProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
OUTAGE_SECONDS = float(os.environ.get("CITYLINE_DB_OUTAGE_SECONDS", "180"))
CLUSTER = os.environ.get("CITYLINE_PG_CLUSTER", "main")


def postgres(action: str) -> None:
    version = sorted(path.name for path in Path("/etc/postgresql").iterdir())[-1]
    argv = ["pg_ctlcluster", "--skip-systemctl-redirect", version, CLUSTER, action]
    if action == "stop":
        argv += ["-m", "fast"]
    result = subprocess.run(argv, timeout=120, capture_output=True, text=True)
    if result.returncode != 0 and "already running" not in result.stderr:
        raise RuntimeError(f"pg_ctlcluster {action} failed: {result.stderr.strip()}")


def follow(user: str) -> LineWebhookEvent:
    event_id = uuid.uuid4().hex[:26].upper()
    event = {"type": "follow", "mode": "active", "timestamp": int(time.time() * 1000), "webhookEventId": event_id,
             "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": user}}
    return LineWebhookEvent.seal(fixed_cipher(), destination="U" + "0" * 32, webhook_event_id=event_id,
                                 event_type="follow", is_redelivery=False, standby=False, event=event)


def residents(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM segment.residents")).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/etc/postgresql").is_dir(),
                    reason="stopping PostgreSQL needs root and a local Debian cluster (CI and the dev machines)")
def test_a_three_minute_database_outage_dead_letters_nothing_and_records_each_resident_once(
    migrated_database_url, amqp_url
):
    declare_with_url(amqp_url)
    drain(amqp_url, "segment.line-events.dlq", timeout=0.3)
    before = residents(migrated_database_url)
    env = {"DATABASE_URL": migrated_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS}
    consumer = RunningProcess("segment-consumer", ["segment-service-consumer"], env).start()
    publisher = ConfirmingPublisher(amqp_url)
    publisher.start()
    sent: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            message = follow("U" + uuid.uuid4().hex)
            publisher.publish_and_wait(message.outbound(message.webhook_event_id))
            sent.append(message.webhook_event_id)
            stop.wait(0.5)

    streamer = threading.Thread(target=stream, daemon=True)
    try:
        streamer.start()
        time.sleep(5)
        postgres("stop")
        try:
            time.sleep(OUTAGE_SECONDS)
        finally:
            postgres("start")
        time.sleep(5)
        stop.set()
        streamer.join(10)
        wait_until(lambda: residents(migrated_database_url) - before >= len(sent), timeout=120, interval=1,
                   message=f"all {len(sent)} followers recorded after the outage")
        time.sleep(2)  # anything recorded twice would show up now
        assert residents(migrated_database_url) - before == len(sent)
        assert drain(amqp_url, "segment.line-events.dlq", timeout=1.0) == []
    finally:
        stop.set()
        publisher.close()
        consumer.stop()
        print(consumer.output())
    assert len(sent) >= OUTAGE_SECONDS  # follows kept arriving all through the outage
