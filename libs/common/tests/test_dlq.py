"""cityline-dlq against a real broker: dead letters made by a real Consumer are listed without being
lost or reordered, replayed to where they came from (and handled once), refused when their origin
is unknown, and purged only when confirmed."""

import json
import threading
import uuid

import pika
import pytest
from cityline_common.amqp import ConfirmingPublisher, OutboundMessage
from cityline_common.amqp.consumer import Consumer, PoisonMessage
from cityline_common.amqp.topology import CITY_COMMANDS, DLX, declare_with_url
from cityline_common.db import SqlUnitOfWork
from cityline_common.dlq import BODY_PREVIEW_BYTES, main, origin_of, replay_headers
from sqlalchemy import select

from testsupport import drain, wait_until
from testsupport.plumbing import count_effects, record_effect, scratch_schema, work_queue

pytestmark = pytest.mark.integration


@pytest.fixture
def store(database_url):
    with scratch_schema(database_url, "dlq") as (_, engine, plumbing, effects):
        yield engine, plumbing, effects


@pytest.fixture
def publish(amqp_url):
    publisher = ConfirmingPublisher(amqp_url)
    assert publisher.start()

    def send(routing_key, payload, *, headers=None, exchange=CITY_COMMANDS, body=None):
        message_id = str(uuid.uuid4())
        publisher.publish_and_wait(OutboundMessage(
            exchange=exchange, routing_key=routing_key, message_id=message_id, type="test.Job.v1",
            body=body if body is not None else json.dumps(payload).encode(), headers=headers or {}))
        return message_id

    yield send
    publisher.close()


@pytest.fixture
def cli(monkeypatch, amqp_url, capsys):
    """``cityline-dlq ARGS`` in-process: (exit status, stdout, stderr)."""
    monkeypatch.setenv("AMQP_URL", amqp_url)

    def run(*argv):
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def ready(url, queue):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


class Jobs:
    """A consumer whose handler is broken until ``fixed`` is set: {"mode": "poison"} is poison,
    {"mode": "fail"} raises (the delivery limit dead-letters it); handled messages become effects."""

    def __init__(self, amqp_url, queue, store):
        engine, plumbing, effects = store
        self.fixed = threading.Event()
        self.headers = {}

        def handle(message, uow):
            mode = message.json().get("mode")
            if not self.fixed.is_set():
                if mode == "poison":
                    raise PoisonMessage(f"cannot handle {message.json().get('what')}")
                if mode == "fail":
                    raise RuntimeError("bug")
            self.headers[message.message_id] = message.headers
            record_effect(effects)(message, uow)

        self.consumer = Consumer(url=amqp_url, queue=queue, name="dlq-test",
                                 uow_factory=lambda: SqlUnitOfWork(engine, plumbing), handler=handle,
                                 retry_delay=0.01)

    def __enter__(self):
        self.thread = threading.Thread(target=self.consumer.run, daemon=True)
        self.thread.start()
        wait_until(self.consumer.connected.is_set, message="consumer connected")
        return self

    def __exit__(self, *exc):
        self.consumer.stop()
        self.thread.join(10)


def listed(cli, queue):
    code, out, _ = cli("list", "--queue", queue, "--json")
    assert code == 0
    (entry,) = json.loads(out)["queues"]
    return entry


def test_list_groups_dead_letters_by_reason_and_leaves_them_in_order(amqp_url, store, publish, cli):
    queue = work_queue(delivery_limit=2)
    declare_with_url(amqp_url, (queue,))
    with Jobs(amqp_url, queue, store):
        first = publish(queue.name, {"mode": "poison", "what": "a"}, headers={"x-city": "itami"})
        second = publish(queue.name, {"mode": "poison", "what": "a"})
        third = publish(queue.name, {"mode": "fail"})
        publish(queue.name, {"mode": "fine"})
        wait_until(lambda: ready(amqp_url, queue.dlq) == 3, timeout=30, message="three dead letters")

    entry = listed(cli, queue.dlq)
    assert entry["messages"] == 3
    groups = {group["reason"]: group for group in entry["reasons"]}
    assert set(groups) == {"cannot handle a", "delivery_limit"}
    assert [m["message_id"] for m in groups["cannot handle a"]["messages"]] == [first, second]
    (limited,) = groups["delivery_limit"]["messages"]
    assert limited["message_id"] == third and limited["died_at"] is not None
    for group in groups.values():
        for message in group["messages"]:
            assert (message["exchange"], message["routing_key"]) == (CITY_COMMANDS, queue.name)
            assert message["type"] == "test.Job.v1" and message["replayable"]
    assert groups["cannot handle a"]["messages"][0]["consumer"] == "dlq-test"

    code, out, _ = cli("list", "--queue", queue.dlq)
    assert code == 0
    assert f"{queue.dlq}: 3 message(s)" in out
    assert "2 × cannot handle a" in out and "1 × delivery_limit" in out
    assert f"{first}  type=test.Job.v1  from {CITY_COMMANDS} {queue.name}" in out

    code, out, _ = cli("show", queue.dlq, first)
    assert code == 0
    assert "reason:      cannot handle a" in out and f"origin:      {CITY_COMMANDS} {queue.name}" in out
    assert '"x-city": "itami"' in out or 'x-city: "itami"' in out
    assert '{"mode": "poison", "what": "a"}' in out

    # Every look hands the messages back: more looks than RabbitMQ 4's default delivery limit (20)
    # of a quorum queue, so a broker that counted them against one would drop them here.
    for _ in range(22):
        assert listed(cli, queue.dlq)["messages"] == 3
    assert [props.message_id for _, props, _ in drain(amqp_url, queue.dlq)] == [first, second, third]


def test_show_truncates_a_long_body_unless_asked(amqp_url, store, publish, cli):
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    with Jobs(amqp_url, queue, store):
        long = publish(queue.name, {"mode": "poison", "what": "x" * (3 * BODY_PREVIEW_BYTES)})
        wait_until(lambda: ready(amqp_url, queue.dlq) == 1, message="dead letter")
    code, out, _ = cli("show", queue.dlq, long)
    assert code == 0
    assert f"first {BODY_PREVIEW_BYTES} shown; --full for all" in out and "x" * (3 * BODY_PREVIEW_BYTES) not in out
    code, out, _ = cli("show", queue.dlq, long, "--full")
    assert "x" * (3 * BODY_PREVIEW_BYTES) in out
    code, _, err = cli("show", queue.dlq, "no-such-id")
    assert code == 1 and "no message 'no-such-id'" in err
    assert ready(amqp_url, queue.dlq) == 1


def test_replay_sends_a_message_back_where_it_came_from_once_and_removes_it(amqp_url, store, publish, cli):
    engine, plumbing, effects = store
    queue = work_queue(delivery_limit=2)
    declare_with_url(amqp_url, (queue,))
    with Jobs(amqp_url, queue, store) as jobs:
        first = publish(queue.name, {"mode": "poison", "what": "a"})
        second = publish(queue.name, {"mode": "poison", "what": "b"}, headers={"x-city": "itami"})
        third = publish(queue.name, {"mode": "fail"})
        fourth = publish(queue.name, {"mode": "poison", "what": "c"})
        wait_until(lambda: ready(amqp_url, queue.dlq) == 4, timeout=30, message="four dead letters")
        jobs.fixed.set()  # the bug is fixed; now the SRE replays

        code, out, _ = cli("replay", queue.dlq, second)
        assert code == 0, out
        assert f"replayed {second} (test.Job.v1) to {CITY_COMMANDS} {queue.name}" in out
        wait_until(lambda: count_effects(engine, effects) == 1, message="the replayed message handled")
        # Its own headers came back; the dead-letter bookkeeping did not.
        assert jobs.headers[second]["x-city"] == "itami"
        assert not {"x-error", "x-original-exchange", "x-original-routing-key", "x-consumer",
                    "x-death"} & set(jobs.headers[second])
        assert jobs.headers[second]["x-replayed-from"] == queue.dlq

        # A broker dead letter (x-death) goes back too, chosen by its reason.
        code, out, _ = cli("replay", queue.dlq, "--reason", "delivery_limit")
        assert code == 0 and f"replayed {third}" in out
        wait_until(lambda: count_effects(engine, effects) == 2, message="the second replay handled")

        code, out, _ = cli("replay", queue.dlq, "gone-id")
        assert code == 1 and "not found gone-id" in out

    with engine.connect() as connection:
        handled = sorted(connection.execute(select(effects.c.message_id)).scalars())
        claimed = sorted(connection.execute(select(plumbing.processed_messages.c.message_id)).scalars())
    assert handled == claimed == sorted([second, third])  # each handled once, and only those
    assert [m["message_id"] for g in listed(cli, queue.dlq)["reasons"] for m in g["messages"]] == [first, fourth]


def test_a_message_of_unknown_origin_is_refused_and_left_in_place(amqp_url, publish, cli):
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    orphan = publish(queue.name, {"n": 1}, exchange=DLX)  # straight into the DLQ, no x-original-* headers
    code, out, _ = cli("replay", queue.dlq, "--all")
    assert code == 1
    assert f"refused {orphan} (test.Job.v1): its original exchange and routing key are unknown" in out
    assert ready(amqp_url, queue.dlq) == 1
    (group,) = listed(cli, queue.dlq)["reasons"]
    assert group["messages"][0]["replayable"] is False


def test_unrouted_messages_go_back_to_their_exchange_once_someone_listens(amqp_url, publish, cli):
    declare_with_url(amqp_url, ())
    key = f"test.nobody.{uuid.uuid4().hex[:8]}"
    unrouted = f"{CITY_COMMANDS}.unrouted"
    lost = publish(key, {"n": 1})
    code, out, _ = cli("show", unrouted, lost, "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["exchange"], shown["routing_key"], shown["reason"]) == (
        CITY_COMMANDS, key, "unrouted: no queue was bound for its routing key")

    queue = work_queue(key)
    declare_with_url(amqp_url, (queue,))
    code, out, _ = cli("replay", unrouted, lost)
    assert code == 0, out
    (delivery,) = drain(amqp_url, queue.name)
    assert delivery[1].message_id == lost and delivery[2] == b'{"n": 1}'
    assert delivery[1].delivery_mode == 2
    code, out, _ = cli("show", unrouted, lost)
    assert code == 1


def test_purge_asks_first_and_refuses_other_queues(amqp_url, publish, cli):
    queue = work_queue()
    declare_with_url(amqp_url, (queue,))
    for n in range(3):
        publish(queue.name, {"n": n}, exchange=DLX)

    code, _, err = cli("purge", queue.dlq)  # no --yes, and no terminal to ask
    assert code == 2 and "--yes" in err
    assert ready(amqp_url, queue.dlq) == 3

    code, _, err = cli("purge", queue.name, "--yes")
    assert code == 2 and "not a dead-letter" in err
    code, _, err = cli("purge", "no-such.dlq", "--yes")
    assert code == 2 and "no queue 'no-such.dlq'" in err
    code, _, err = cli("list", "--queue", "no-such.dlq")
    assert code == 2

    code, out, _ = cli("purge", queue.dlq, "--yes")
    assert code == 0 and f"purged 3 message(s) from {queue.dlq}" in out
    assert ready(amqp_url, queue.dlq) == 0


def test_replay_keeps_the_message_and_drops_only_the_bookkeeping():
    headers = {"traceparent": "00-abc-def-01", "x-city": "itami", "x-error": "bad", "x-consumer": "c",
               "x-original-exchange": "city.events", "x-original-routing-key": "a.b", "x-delivery-count": 3,
               "x-death": [{"queue": "q"}], "x-first-death-reason": "rejected", "x-last-death-queue": "q"}
    assert replay_headers(headers) == {"traceparent": "00-abc-def-01", "x-city": "itami"}
    assert origin_of("q.dlq", DLX, "q", headers) == ("city.events", "a.b")
    death = {"x-death": [{"queue": "other", "exchange": "city.commands", "routing-keys": ["x"]},
                         {"queue": "q", "exchange": "line.events", "routing-keys": ["line.event.follow"]}]}
    assert origin_of("q.dlq", DLX, "q", death) == ("line.events", "line.event.follow")
    assert origin_of("q.dlq", DLX, "q", {}) is None
    assert origin_of("line.events.unrouted", "line.events", "line.event.new", {}) == ("line.events", "line.event.new")
    assert origin_of("q.dlq", DLX, "q", {"x-original-exchange": DLX, "x-original-routing-key": "q"}) is None
