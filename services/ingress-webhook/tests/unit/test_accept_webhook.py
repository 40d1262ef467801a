"""Accepting LINE's webhooks, as stories run in memory: a broker that confirms or not, a database
that answers or not, and what LINE is told each time."""

import json
import time
from datetime import timedelta

import pytest
from cityline_common.amqp import BrokerUnavailable
from cityline_common.crypto import FieldCipher, generate_key
from cityline_common.line_events import LineWebhookEvent
from cityline_common.messagebus import MessageBus
from ingress_webhook.adapters.in_memory import InMemoryIngressUnitOfWork, InMemorySeenEvents
from ingress_webhook.domain.commands import AcceptWebhook, Outcome
from ingress_webhook.domain.webhook import parse_webhook
from ingress_webhook.service_layer.handlers import Ingress, Taker, handlers, seal
from line_emulator.webhooks import sign
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
CIPHER = FieldCipher.from_spec(f"k1:{generate_key()}")
HANAKO = "U" + "a1" * 16
NOW = 1_795_000_000.0  # the platform's clock (epoch seconds), fixed for the stories
WINDOW = timedelta(hours=72)


class Broker:
    """Confirms what it is given, unless told to be down (or to drop some messages)."""

    def __init__(self) -> None:
        self.down = False
        self.unconfirmed: set[str] = set()  # message ids it takes but never confirms
        self.published: list = []
        self.timeouts: list[float] = []

    def publish_all(self, messages, timeout):
        self.timeouts.append(timeout)
        if self.down:
            return [BrokerUnavailable("broker down") for _ in messages]
        self.published.extend(messages)
        return [BrokerUnavailable(f"no confirm within {timeout}s") if message.message_id in self.unconfirmed else None
                for message in messages]


class Platform:
    def __init__(self, spool: bool = True) -> None:
        self.broker = Broker()
        self.seen: set[str] = set()
        self.units: list[InMemoryIngressUnitOfWork] = []
        self.database_down = False
        self.claims_tried = 0
        self.monotonic = time.monotonic()  # the taker's clock, moved by hand
        self.taker = Taker(uow_factory=self.uow, publish_all=self.broker.publish_all, spool=spool,
                           clock=lambda: self.monotonic)
        ingress = Ingress(channel_secret=SECRET.encode(), cipher=CIPHER, take=self.taker.take_one,
                          dedupe_window=WINDOW, clock=lambda: NOW)
        self.bus = MessageBus(self.uow, handlers(ingress))

    def uow(self) -> InMemoryIngressUnitOfWork:
        unit = DatabaseThatMayBeDown(self) if self.database_down else InMemoryIngressUnitOfWork(self.seen)
        self.units.append(unit)
        return unit

    def post(self, *events, signature: str | None = None):
        body = json.dumps({"destination": "U" + "d" * 32, "events": list(events)}).encode()
        return self.post_raw(body, signature)

    def post_raw(self, body: bytes, signature: str | None = None):
        signatures = (sign(SECRET, body),) if signature is None else ((signature,) if signature else ())
        return self.bus.handle(AcceptWebhook(body, signatures))

    def spooled(self):
        return [message for unit in self.units for message in unit.emitted]


class DatabaseThatMayBeDown(InMemoryIngressUnitOfWork):
    def __init__(self, platform: Platform) -> None:
        super().__init__(platform.seen)
        self.platform = platform

    def __enter__(self):
        super().__enter__()
        self.seen = Unreachable(self.platform)
        return self


class Unreachable(InMemorySeenEvents):
    def __init__(self, platform: Platform) -> None:
        super().__init__(platform.seen, set())
        self.platform = platform

    def claim(self, webhook_event_ids):
        self.platform.claims_tried += 1
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def follow(event_id="01J0000000000000000000000A", age=timedelta(seconds=1)):
    return {"type": "follow", "mode": "active", "timestamp": int((NOW - age.total_seconds()) * 1000),
            "webhookEventId": event_id, "deliveryContext": {"isRedelivery": False},
            "source": {"type": "user", "userId": HANAKO}, "replyToken": "r", "follow": {"isUnblocked": False}}


def test_a_signed_follow_is_published_sealed_and_remembered():
    platform = Platform()
    assert platform.post(follow()).outcome is Outcome.ACCEPTED

    [message] = platform.broker.published
    assert (message.routing_key, message.type, message.message_id) == (
        "line.event.follow", "line.WebhookEvent.v1", "01J0000000000000000000000A")
    assert HANAKO.encode() not in message.body
    assert LineWebhookEvent.parse(message.body).open(CIPHER).event == follow()
    assert platform.seen == {"01J0000000000000000000000A"}


@pytest.mark.parametrize("kind", ["follow", "message", "brandNewType"])
def test_the_message_published_is_the_one_the_contract_describes(kind):
    platform = Platform()
    platform.post({**follow(), "type": kind})
    [message] = platform.broker.published
    contract = LineWebhookEvent.parse(message.body)
    expected = contract.outbound(message.message_id, message.headers)
    assert (message.exchange, message.routing_key, message.type, message.message_id) == (
        expected.exchange, expected.routing_key, expected.type, expected.message_id)
    assert json.loads(message.body) == json.loads(expected.body)


def test_the_same_event_again_is_a_duplicate_and_is_not_published_twice():
    platform = Platform()
    platform.post(follow())
    assert platform.post(follow()).outcome is Outcome.DUPLICATE
    assert len(platform.broker.published) == 1


def test_with_the_broker_down_the_event_waits_sealed_in_the_spool_and_line_hears_200():
    platform = Platform()
    platform.broker.down = True
    result = platform.post(follow())
    assert (result.outcome, result.spooled) == (Outcome.SPOOLED, 1)
    [spooled] = platform.spooled()
    assert spooled.message_id == "01J0000000000000000000000A"
    assert HANAKO not in json.dumps(spooled.contract.payload())
    assert platform.units[-1].durable  # the spool survives a database crash


def test_with_the_spool_off_line_hears_503_and_its_redelivery_is_taken_later():
    platform = Platform(spool=False)
    platform.broker.down = True
    assert platform.post(follow()).outcome is Outcome.UNAVAILABLE
    assert platform.seen == set() and platform.spooled() == []
    platform.broker.down = False
    assert platform.post(follow()).outcome is Outcome.ACCEPTED


def test_with_the_database_down_events_are_still_published_without_de_duplication():
    platform = Platform()
    platform.database_down = True
    assert platform.post(follow()).outcome is Outcome.ACCEPTED
    assert len(platform.broker.published) == 1
    platform.broker.down = True
    assert platform.post(follow()).outcome is Outcome.UNAVAILABLE  # neither way to keep it: LINE must retry


@pytest.mark.parametrize("signature", ["", "bm90IGl0"])
def test_an_unsigned_or_wrongly_signed_request_changes_nothing(signature):
    platform = Platform()
    result = platform.post(follow(), signature=signature)
    assert result.outcome in {Outcome.SIGNATURE_MISSING, Outcome.SIGNATURE_INVALID}
    assert platform.broker.published == [] and platform.seen == set()


# --- signed bodies Python's own parser chokes on: 400 with the reason, never an error ---------------

DEEP = b'{"destination": "U", "events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
LONG_NUMBER = b'{"destination": "U", "events": [], "n": ' + b"7" * 5000 + b"}"


@pytest.mark.parametrize(("body", "reason"), [(DEEP, "nested deeper"), (LONG_NUMBER, "number too long")])
def test_signed_bodies_that_break_the_json_parser_are_invalid_with_a_reason(body, reason):
    platform = Platform()
    result = platform.post_raw(body)
    assert result.outcome is Outcome.INVALID and reason in result.reason
    assert platform.broker.published == [] and platform.seen == set()


# --- replays older than the de-duplication window --------------------------------------------------

def refused_so_far() -> float:
    return REGISTRY.get_sample_value("cityline_webhook_events_too_old_total") or 0.0


def test_an_event_older_than_the_window_is_refused_but_line_hears_200():
    platform = Platform()
    refused_before = refused_so_far()
    result = platform.post(follow(age=WINDOW + timedelta(minutes=1)))
    assert (result.outcome, result.too_old) == (Outcome.TOO_OLD, 1)  # 200: LINE must not retry it
    assert platform.broker.published == [] and platform.seen == set() and platform.spooled() == []
    assert refused_so_far() == refused_before + 1


def test_the_rest_of_a_request_is_taken_when_one_event_is_too_old():
    platform = Platform()
    old, recent = follow("01OLD", age=timedelta(hours=73)), follow("01RECENT", age=timedelta(hours=71))
    result = platform.post(old, recent)
    assert (result.outcome, result.events, result.too_old) == (Outcome.ACCEPTED, 1, 1)
    assert [message.message_id for message in platform.broker.published] == ["01RECENT"]


def test_the_cut_off_leaves_room_for_clock_skew():
    # Within the window but inside the skew allowance (5 min): its id might already have been swept
    # if LINE's clock ran ahead of ours when it was first received, so it is refused too.
    platform = Platform()
    assert platform.post(follow(age=WINDOW - timedelta(minutes=2))).outcome is Outcome.TOO_OLD
    assert platform.post(follow("01B", age=WINDOW - timedelta(minutes=10))).outcome is Outcome.ACCEPTED


@pytest.mark.parametrize("timestamp", [None, "1795000000000", 1.795e12, True])
def test_an_event_without_an_integer_timestamp_is_invalid(timestamp):
    event = follow()
    if timestamp is None:
        del event["timestamp"]
    else:
        event["timestamp"] = timestamp
    result = Platform().post(event)
    assert result.outcome is Outcome.INVALID and "timestamp" in result.reason


# --- group commit: several requests in one transaction --------------------------------------------

def verified(platform: Platform, *events, arrived: float | None = None):
    """What the handler hands the taker: the request's events, sealed."""
    body = json.dumps({"destination": "U" + "d" * 32, "events": list(events)}).encode()
    return seal(parse_webhook(body), CIPHER, arrived if arrived is not None else platform.monotonic)


def test_a_batch_claims_publishes_and_commits_once_and_each_request_gets_its_own_result():
    platform = Platform()
    platform.post(follow("01SEEN"))
    first, again, other = (verified(platform, follow("01A"), follow("01SEEN")),
                           verified(platform, {**follow("01A"), "deliveryContext": {"isRedelivery": True}}),
                           verified(platform, follow("01B"), follow("01C")))
    results = platform.taker.take_batch([first, again, other])

    assert [(r.outcome, r.events, r.duplicates) for r in results] == [
        (Outcome.ACCEPTED, 1, 1), (Outcome.DUPLICATE, 0, 1), (Outcome.ACCEPTED, 2, 0)]
    # The redelivery racing its original inside the batch is published once.
    assert [m.message_id for m in platform.broker.published[1:]] == ["01A", "01B", "01C"]
    batch_unit = platform.units[-1]
    assert batch_unit.commits == 1 and platform.seen == {"01SEEN", "01A", "01B", "01C"}
    assert len(platform.broker.timeouts) == 2  # one publish (one confirm wait) for the whole batch


def test_a_batch_waits_for_confirms_only_until_its_earliest_request_runs_out_of_time():
    platform = Platform()
    now = platform.monotonic
    platform.taker.take_batch([verified(platform, follow("01A"), arrived=now - 0.4),
                               verified(platform, follow("01B"), arrived=now)])
    [timeout] = platform.broker.timeouts
    assert timeout == pytest.approx(0.6)  # PUBLISH_TIMEOUT_SECONDS (1 s) from the first arrival, not from now


def test_spool_on_unconfirmed_events_of_a_batch_are_spooled_in_its_transaction():
    platform = Platform()
    platform.broker.unconfirmed = {"01B"}
    results = platform.taker.take_batch([verified(platform, follow("01A")), verified(platform, follow("01B"))])
    assert [(r.outcome, r.spooled) for r in results] == [(Outcome.ACCEPTED, 0), (Outcome.SPOOLED, 1)]
    assert [m.message_id for m in platform.spooled()] == ["01B"] and platform.units[-1].durable
    assert platform.seen == {"01A", "01B"}


def test_spool_off_only_the_requests_that_lost_an_event_hear_503_and_their_claims_are_released():
    platform = Platform(spool=False)
    platform.broker.unconfirmed = {"01B"}
    taken = verified(platform, follow("01A"))
    lost = verified(platform, follow("01B"), follow("01C"))
    counting_on_it = verified(platform, follow("01B"), follow("01D"))  # told "duplicate" for 01B
    results = platform.taker.take_batch([taken, lost, counting_on_it])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.UNAVAILABLE, Outcome.UNAVAILABLE]
    # Only the request that was answered 200 keeps its claims: LINE's redelivery of the others is taken.
    assert platform.seen == {"01A"}
    assert [r.outcome for r in platform.taker.take_batch([lost, counting_on_it])] == [
        Outcome.UNAVAILABLE, Outcome.UNAVAILABLE]  # 01B still unconfirmed
    platform.broker.unconfirmed = set()
    assert [r.outcome for r in platform.taker.take_batch([lost, counting_on_it])] == [
        Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert platform.seen == {"01A", "01B", "01C", "01D"}


def test_after_a_database_failure_batches_skip_it_for_a_moment_then_try_again():
    platform = Platform()
    platform.database_down = True
    assert platform.post(follow("01A")).outcome is Outcome.ACCEPTED
    assert platform.post(follow("01B")).outcome is Outcome.ACCEPTED
    assert platform.claims_tried == 1  # the second batch did not wait for the same failure
    platform.monotonic += 1.5
    platform.database_down = False
    assert platform.post(follow("01C")).outcome is Outcome.ACCEPTED
    assert platform.seen == {"01C"}  # de-duplication is back


def test_a_batch_without_the_database_publishes_every_request_without_de_duplication():
    platform = Platform()
    platform.database_down = True
    results = platform.taker.take_batch([verified(platform, follow("01A")), verified(platform, follow("01A"))])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert len(platform.broker.published) == 2  # consumers de-duplicate on the message id
