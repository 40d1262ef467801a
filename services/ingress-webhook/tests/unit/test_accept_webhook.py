"""Accepting LINE's webhooks, as stories run in memory: a broker that confirms or not, a database
that answers or not, and what LINE is told each time."""

import json

import pytest
from cityline_common.amqp import BrokerUnavailable
from cityline_common.crypto import FieldCipher, generate_key
from cityline_common.line_events import LineWebhookEvent
from cityline_common.messagebus import MessageBus
from ingress_webhook.adapters.in_memory import InMemoryIngressUnitOfWork, InMemorySeenEvents
from ingress_webhook.domain.commands import AcceptWebhook, Outcome
from ingress_webhook.service_layer.handlers import Ingress, handlers
from line_emulator.webhooks import sign
from sqlalchemy.exc import OperationalError

SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
CIPHER = FieldCipher.from_spec(f"k1:{generate_key()}")
HANAKO = "U" + "a1" * 16


class Broker:
    """Confirms what it is given, unless told to be down."""

    def __init__(self) -> None:
        self.down = False
        self.published: list = []

    def publish_all(self, messages):
        if self.down:
            return [BrokerUnavailable("broker down") for _ in messages]
        self.published.extend(messages)
        return [None for _ in messages]


class Platform:
    def __init__(self, spool: bool = True) -> None:
        self.broker = Broker()
        self.seen: set[str] = set()
        self.units: list[InMemoryIngressUnitOfWork] = []
        self.database_down = False
        ingress = Ingress(channel_secret=SECRET.encode(), publish_all=self.broker.publish_all, cipher=CIPHER,
                          spool=spool)
        self.bus = MessageBus(self.uow, handlers(ingress))

    def uow(self) -> InMemoryIngressUnitOfWork:
        unit = DatabaseThatMayBeDown(self) if self.database_down else InMemoryIngressUnitOfWork(self.seen)
        self.units.append(unit)
        return unit

    def post(self, *events, signature: str | None = None):
        body = json.dumps({"destination": "U" + "d" * 32, "events": list(events)}).encode()
        signatures = (sign(SECRET, body),) if signature is None else ((signature,) if signature else ())
        return self.bus.handle(AcceptWebhook(body, signatures))

    def spooled(self):
        return [message for unit in self.units for message in unit.emitted]


class DatabaseThatMayBeDown(InMemoryIngressUnitOfWork):
    def __init__(self, platform: Platform) -> None:
        super().__init__(platform.seen)

    def __enter__(self):
        super().__enter__()
        self.seen = Unreachable(self.seen_ids, set())
        return self


class Unreachable(InMemorySeenEvents):
    def claim(self, webhook_event_ids):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))


def follow(event_id="01J0000000000000000000000A"):
    return {"type": "follow", "mode": "active", "timestamp": 1, "webhookEventId": event_id,
            "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": HANAKO},
            "replyToken": "r", "follow": {"isUnblocked": False}}


def test_a_signed_follow_is_published_sealed_and_remembered():
    platform = Platform()
    assert platform.post(follow()).outcome is Outcome.ACCEPTED

    [message] = platform.broker.published
    assert (message.routing_key, message.type, message.message_id) == (
        "line.event.follow", "line.WebhookEvent.v1", "01J0000000000000000000000A")
    assert HANAKO.encode() not in message.body
    assert LineWebhookEvent.parse(message.body).open(CIPHER).event == follow()
    assert platform.seen == {"01J0000000000000000000000A"}


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
