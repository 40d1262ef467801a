"""The consumer base against a real broker: poison, retries, delivery limit, duplicates, restarts."""

import json
import subprocess
import threading
import uuid

import pika
import pytest
from cityline_common.amqp import ConfirmingPublisher, OutboundMessage
from cityline_common.amqp.consumer import Consumer, PoisonMessage
from cityline_common.amqp.topology import CITY_COMMANDS, declare_with_url
from cityline_common.db import SqlUnitOfWork
from sqlalchemy.exc import OperationalError

from testsupport import drain, wait_until
from testsupport.plumbing import count_effects, record_effect, scratch_schema, work_queue

pytestmark = pytest.mark.integration


@pytest.fixture
def store(database_url):
    with scratch_schema(database_url, "consumer") as (_, engine, plumbing, effects):
        yield engine, plumbing, effects


@pytest.fixture
def publish(amqp_url):
    publisher = ConfirmingPublisher(amqp_url)
    assert publisher.start()

    def send(routing_key, body, message_id=None):
        message_id = message_id or str(uuid.uuid4())
        publisher.publish_and_wait(OutboundMessage(exchange=CITY_COMMANDS, routing_key=routing_key,
                                                   body=body, message_id=message_id, type="test"))
        return message_id

    yield send
    publisher.close()


def running(consumer):
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    wait_until(consumer.connected.is_set, message="consumer connected")
    return thread


def make_consumer(amqp_url, queue, store, handler=None, **kwargs):
    engine, plumbing, effects = store
    return Consumer(url=amqp_url, queue=queue, name="consumer-test",
                    uow_factory=lambda: SqlUnitOfWork(engine, plumbing),
                    handler=handler or record_effect(effects), retry_delay=0.01, **kwargs)


def test_duplicates_are_applied_once(amqp_url, store, publish):
    engine, _, effects = store
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    consumer = make_consumer(amqp_url, queue, store)
    thread = running(consumer)
    try:
        for _ in range(3):
            publish(queue.name, b'{"same": true}', message_id="same-id")
        publish(queue.name, b'{"other": true}')
        wait_until(lambda: count_effects(engine, effects) == 2, message="two effects")
    finally:
        consumer.stop()
        thread.join(10)


def test_poison_message_goes_to_its_dlq_with_the_reason_and_changes_nothing(amqp_url, store, publish):
    engine, _, effects = store
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))

    def strict(message, uow):
        payload = message.json()
        if "name" not in payload:
            raise PoisonMessage("payload has no 'name'")
        record_effect(effects)(message, uow)

    consumer = make_consumer(amqp_url, queue, store, handler=strict)
    thread = running(consumer)
    try:
        not_json = publish(queue.name, b"\xff not json")
        no_name = publish(queue.name, b'{"other": 1}')
        publish(queue.name, b'{"name": "ok"}')
        wait_until(lambda: count_effects(engine, effects) == 1, message="the good message")
    finally:
        consumer.stop()
        thread.join(10)
    dead = {props.message_id: props.headers for _, props, _ in drain(amqp_url, queue.dlq)}
    assert set(dead) == {not_json, no_name}
    assert dead[not_json]["x-error"].startswith("body is not valid JSON")
    assert dead[no_name]["x-error"] == "payload has no 'name'"
    assert dead[no_name]["x-original-routing-key"] == queue.name
    assert count_effects(engine, effects) == 1


def test_transient_failures_are_retried_then_succeed(amqp_url, store, publish):
    engine, _, effects = store
    queue = work_queue(delivery_limit=5)
    declare_with_url(amqp_url, (queue,))
    failures = {"left": 2}

    def flaky(message, uow):
        record_effect(effects)(message, uow)  # written, then rolled back by the failure below
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database briefly away")

    consumer = make_consumer(amqp_url, queue, store, handler=flaky)
    thread = running(consumer)
    try:
        publish(queue.name, b"{}")
        wait_until(lambda: count_effects(engine, effects) == 1, message="retried success")
    finally:
        consumer.stop()
        thread.join(10)
    assert failures["left"] == 0
    assert drain(amqp_url, queue.dlq, timeout=0.5) == []


def test_an_outage_longer_than_the_delivery_limit_holds_the_message_and_spends_nothing(amqp_url, store, publish):
    engine, _, effects = store
    queue = work_queue(delivery_limit=1)
    declare_with_url(amqp_url, (queue,))
    seen: list[bool] = []
    failures = {"left": 4}  # more failures than the delivery limit allows redeliveries

    def database_away(message, uow):
        seen.append(message.redelivered)
        record_effect(effects)(message, uow)
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))

    consumer = make_consumer(amqp_url, queue, store, handler=database_away)
    thread = running(consumer)
    try:
        publish(queue.name, b"{}")
        wait_until(lambda: count_effects(engine, effects) == 1, timeout=30, message="success after the outage")
    finally:
        consumer.stop()
        thread.join(10)
    assert seen == [False] * 5  # held and retried in place: never handed back to the broker
    assert drain(amqp_url, queue.dlq, timeout=0.5) == []


def test_a_message_that_always_fails_is_dead_lettered_by_the_delivery_limit(amqp_url, store, publish):
    queue = work_queue(delivery_limit=2)
    declare_with_url(amqp_url, (queue,))

    def broken(message, uow):
        raise RuntimeError("bug")

    consumer = make_consumer(amqp_url, queue, store, handler=broken)
    thread = running(consumer)
    try:
        message_id = publish(queue.name, b"{}")
        dead = wait_until(lambda: drain(amqp_url, queue.dlq, timeout=0.2), timeout=30, message="dead letter")
    finally:
        consumer.stop()
        thread.join(10)
    assert dead[0][1].message_id == message_id
    assert dead[0][1].headers["x-death"][0]["reason"] == "delivery_limit"


@pytest.mark.slow
def test_broker_restart_during_consumption_loses_nothing(amqp_url, store, publish):
    engine, _, effects = store
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    total = 300
    for number in range(total):
        publish(queue.name, json.dumps({"n": number}).encode())

    def slow(message, uow):
        record_effect(effects)(message, uow)
        threading.Event().wait(0.01)

    consumer = make_consumer(amqp_url, queue, store, handler=slow, prefetch=20)
    thread = running(consumer)
    try:
        wait_until(lambda: count_effects(engine, effects) >= 30, message="consumption under way")
        subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=120)
        subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=120)
        wait_until(lambda: count_effects(engine, effects) == total, timeout=120, message="all messages")
    finally:
        consumer.stop()
        thread.join(30)
    assert count_effects(engine, effects) == total  # the primary key proves none was applied twice
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        remaining = connection.channel().queue_declare(queue.name, passive=True).method.message_count
    finally:
        connection.close()
    assert remaining == 0
