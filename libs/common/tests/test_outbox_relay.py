"""Outbox + relay against real PostgreSQL and RabbitMQ, including a relay killed mid-batch."""

import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from cityline_common.amqp import ConfirmingPublisher
from cityline_common.amqp.consumer import Consumer
from cityline_common.amqp.topology import declare_with_url
from cityline_common.contracts import ContractInfo
from cityline_common.db import SqlUnitOfWork
from cityline_common.relay import OutboxRelay
from pydantic import ValidationError
from sqlalchemy import func, select

from testsupport import ROOT, drain, wait_until
from testsupport.plumbing import Happened, count_effects, record_effect, scratch_schema, work_queue

pytestmark = pytest.mark.integration



@pytest.fixture
def schema(database_url):
    with scratch_schema(database_url, "relay") as created:
        yield created


def emit_rows(engine, plumbing, routing_key, count):
    ids = []
    with SqlUnitOfWork(engine, plumbing) as uow:
        for number in range(count):
            ids.append(uow.emit(Happened(key=routing_key, n=number, text="伊丹")))
        uow.commit()
    return ids


class Lost(Happened):
    contract = ContractInfo("test.Lost", 1, "missing-exchange", "x")
    key: str = "x"


def pending(engine, plumbing):
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(plumbing.outbox).where(plumbing.outbox.c.published_at.is_(None))
        ).scalar_one()


def test_rows_exist_only_with_their_transaction(schema):
    _, engine, plumbing, _ = schema
    with SqlUnitOfWork(engine, plumbing) as uow:
        uow.emit(Happened(key="x", n=1))
        # no commit: leaving the block rolls back
    assert pending(engine, plumbing) == 0
    with pytest.raises(ValidationError), SqlUnitOfWork(engine, plumbing) as uow:
        uow.emit(Happened(key="x", n="not a number"))  # a contract refuses it before anything is written
    assert pending(engine, plumbing) == 0


def test_relay_publishes_with_ids_and_trace_context_then_marks_sent(schema, amqp_url):
    _, engine, plumbing, _ = schema
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    ids = emit_rows(engine, plumbing, queue.name, 5)
    publisher = ConfirmingPublisher(amqp_url)
    publisher.start()
    try:
        relay = OutboxRelay(engine, plumbing, publisher)
        assert relay.run_once() == 5
        assert relay.run_once() == 0
    finally:
        publisher.close()
    assert pending(engine, plumbing) == 0
    messages = drain(amqp_url, queue.name)
    assert [props.message_id for _, props, _ in messages] == ids  # in creation order
    assert all(props.type == "test.Happened.v1" and props.delivery_mode == 2 for _, props, _ in messages)
    assert "伊丹" in messages[0][2].decode()


def test_failed_publish_backs_off_and_is_kept(schema, amqp_url):
    _, engine, plumbing, _ = schema
    with SqlUnitOfWork(engine, plumbing) as uow:
        uow.emit(Lost())
        uow.commit()
    publisher = ConfirmingPublisher(amqp_url)
    publisher.start()
    try:
        assert OutboxRelay(engine, plumbing, publisher, confirm_timeout=3).run_once() == 0
    finally:
        publisher.close()
    with engine.connect() as connection:
        row = connection.execute(select(plumbing.outbox)).one()
    assert row.published_at is None and row.attempts == 1 and row.last_error
    assert row.available_at > row.created_at


RELAY_THAT_DIES = textwrap.dedent(
    """
    import os, signal, sys
    sys.path[:0] = [{root!r}]
    from testsupport.plumbing import make_schema
    from cityline_common.amqp import ConfirmingPublisher
    from cityline_common.db import make_engine
    from cityline_common.relay import OutboxRelay

    _, plumbing, _ = make_schema({schema!r})
    publisher = ConfirmingPublisher({amqp_url!r})
    assert publisher.start()

    def die(rows):
        # The broker has confirmed every row of the batch; the marks are not committed yet.
        print(len(rows), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    OutboxRelay(make_engine({database_url!r}), plumbing, publisher, after_publish=die).run_once()
    """
)


def test_relay_killed_between_publish_and_mark_republishes_and_consumers_ignore_it(
    schema, amqp_url, database_url
):
    name, engine, plumbing, effects = schema
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    ids = emit_rows(engine, plumbing, queue.name, 20)

    script = RELAY_THAT_DIES.format(root=str(ROOT), schema=name, amqp_url=amqp_url,
                                    database_url=database_url)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert result.stdout.strip() == "20"
    assert pending(engine, plumbing) == 20  # killed before marking: nothing lost, all still pending

    publisher = ConfirmingPublisher(amqp_url)
    publisher.start()
    try:
        assert OutboxRelay(engine, plumbing, publisher).run_once() == 20  # the restarted relay publishes again
    finally:
        publisher.close()
    assert pending(engine, plumbing) == 0

    # The queue now holds every message twice; the idempotent consumer applies each once.
    uow_factory = lambda: SqlUnitOfWork(engine, plumbing)  # noqa: E731
    consumer = Consumer(url=amqp_url, queue=queue, name="relay-test", uow_factory=uow_factory,
                        handler=record_effect(effects), declare_topology=False)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: count_effects(engine, effects) == 20, message="20 effects")
        from cityline_common.metrics import MESSAGES_CONSUMED

        wait_until(lambda: MESSAGES_CONSUMED.labels(queue.name, "duplicate")._value.get() == 20,
                   message="20 duplicates skipped")
    finally:
        consumer.stop()
        thread.join(10)
    with engine.connect() as connection:
        applied = connection.execute(select(effects.c.message_id)).scalars().all()
    assert sorted(applied) == sorted(ids)


def test_two_relays_never_take_the_same_row(schema, amqp_url):
    _, engine, plumbing, _ = schema
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    ids = emit_rows(engine, plumbing, queue.name, 600)
    publisher = ConfirmingPublisher(amqp_url)
    publisher.start()
    relays = [OutboxRelay(engine, plumbing, publisher, batch_size=50) for _ in range(2)]
    published = [0, 0]

    def work(index):
        while (count := relays[index].run_once()) > 0:
            published[index] += count

    threads = [threading.Thread(target=work, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    publisher.close()
    assert sum(published) == 600
    assert all(count > 0 for count in published)  # both took part
    messages = drain(amqp_url, queue.name)
    assert sorted(props.message_id for _, props, _ in messages) == sorted(ids)  # each exactly once
