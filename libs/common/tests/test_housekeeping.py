"""What would grow forever: processed message ids are forgotten after their retention, in batches;
the dead-letter and unrouted queues' depths are exported for alerts; the relay's housekeeping does
both."""

import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from cityline_common.amqp import ConfirmingPublisher, OutboundMessage
from cityline_common.amqp.depth import observe_queue_depths, observed_queues
from cityline_common.amqp.topology import CITY_COMMANDS, DLX, declare_with_url, inspection_queues
from cityline_common.relay import OutboxRelay
from prometheus_client import REGISTRY
from sqlalchemy import event, func, insert, select

from testsupport import wait_until
from testsupport.plumbing import scratch_schema, work_queue

pytestmark = pytest.mark.integration


@pytest.fixture
def schema(database_url):
    with scratch_schema(database_url, "housekeeping") as (_, engine, plumbing, _effects):
        yield engine, plumbing


def remember(engine, plumbing, prefix, count, age):
    table = plumbing.processed_messages
    at = datetime.now(UTC) - age
    with engine.begin() as connection:
        connection.execute(insert(table), [
            {"consumer": "c", "message_id": f"{prefix}-{n}", "processed_at": at} for n in range(count)])


def remembered(engine, plumbing):
    table = plumbing.processed_messages
    with engine.connect() as connection:
        return sorted(connection.execute(select(table.c.message_id)).scalars())


def depth(queue):
    return REGISTRY.get_sample_value("cityline_queue_messages", {"queue": queue})


def dead_letter(amqp_url, queue, count=1):
    """What the consumer does with a poison message: publish it to the DLX under the queue's name."""
    publisher = ConfirmingPublisher(amqp_url)
    assert publisher.start()
    try:
        for n in range(count):
            publisher.publish_and_wait(OutboundMessage(
                exchange=DLX, routing_key=queue.name, body=b"{}", message_id=f"dead-{n}", type="test",
                headers={"x-error": "poison", "x-original-exchange": CITY_COMMANDS,
                         "x-original-routing-key": queue.name}))
    finally:
        publisher.close()


def test_processed_ids_older_than_the_retention_are_deleted_in_batches(schema):
    engine, plumbing = schema
    remember(engine, plumbing, "old", 25, timedelta(days=8))
    remember(engine, plumbing, "week", 3, timedelta(days=6))
    remember(engine, plumbing, "new", 2, timedelta(0))
    deletes = []

    @event.listens_for(engine, "before_cursor_execute")
    def count_deletes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(statement)

    relay = OutboxRelay(engine, plumbing, publisher=None)
    assert relay.purge_processed(batch_size=10) == 25
    assert len(deletes) == 3  # 10 + 10 + 5: one short statement per batch, not one long one
    assert remembered(engine, plumbing) == sorted([f"week-{n}" for n in range(3)] + ["new-0", "new-1"])
    assert relay.purge_processed(older_than=timedelta(days=1)) == 3
    assert remembered(engine, plumbing) == ["new-0", "new-1"]


def test_queue_depths_are_exported_and_a_missing_queue_is_skipped(amqp_url):
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    dead_letter(amqp_url, queue, count=2)
    wait_until(lambda: observe_queue_depths(amqp_url, [queue.dlq]).get(queue.dlq) == (2, 0), message="two dead")
    found = observe_queue_depths(amqp_url, ["missing.queue.dlq", queue.dlq, f"{CITY_COMMANDS}.unrouted"])
    assert found[queue.dlq] == (2, 0)
    assert "missing.queue.dlq" not in found and f"{CITY_COMMANDS}.unrouted" in found
    assert depth(queue.dlq) == 2
    assert depth("missing.queue.dlq") is None
    assert REGISTRY.get_sample_value("cityline_queue_consumers", {"queue": queue.dlq}) == 0
    # By default: every registered DLQ and unrouted queue.
    assert set(inspection_queues()) <= set(observed_queues())


def test_the_relay_housekeeping_forgets_old_ids_and_observes_the_queues(schema, amqp_url):
    engine, plumbing = schema
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    dead_letter(amqp_url, queue, count=3)
    remember(engine, plumbing, "old", 4, timedelta(days=30))
    remember(engine, plumbing, "new", 1, timedelta(0))
    publisher = ConfirmingPublisher(amqp_url)
    assert publisher.start()
    relay = OutboxRelay(engine, plumbing, publisher, queue_depths=partial(observe_queue_depths, amqp_url, [queue.dlq]))
    thread = threading.Thread(target=relay.run_forever, daemon=True)
    thread.start()
    try:
        wait_until(lambda: remembered(engine, plumbing) == ["new-0"], message="old ids forgotten")
        wait_until(lambda: depth(queue.dlq) == 3, message="the DLQ's depth exported")
    finally:
        relay.stop()
        thread.join(10)
        publisher.close()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(plumbing.outbox)).scalar_one() == 0
