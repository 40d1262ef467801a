import base64
import hashlib
import hmac
import json

import pytest
from cityline_common.amqp import BrokerUnavailable
from ingress_webhook.domain.webhook import InvalidWebhook, parse_webhook, signature_valid
from ingress_webhook.service_layer.handlers import Outcome, accept_webhook

SECRET = b"8c570fa6dd201bb328f1c1eac23a96d8"


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()


def test_line_documented_test_vector():
    body = b'{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}'
    assert signature_valid(SECRET, body, "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=")
    assert not signature_valid(SECRET, body + b" ", "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=")
    assert not signature_valid(SECRET, body, "not base64 at all é")


def event(kind="follow", event_id="01J0000000000000000000000A", **extra):
    return {"type": kind, "mode": "active", "timestamp": 1, "webhookEventId": event_id,
            "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": "U" + "1" * 32},
            **extra}


def test_parse_keeps_events_untouched_and_routes_by_type():
    original = event("brandNewType", someFutureField={"nested": [1, 2]})
    [envelope] = parse_webhook(json.dumps({"destination": "Ubot", "events": [original]}).encode())
    assert envelope.routing_key == "line.event.brandNewType"
    assert json.loads(envelope.body())["event"] == original


def test_standby_and_redelivery_are_marked():
    body = {"destination": "Ubot", "events": [event(mode="standby", deliveryContext={"isRedelivery": True})]}
    [envelope] = parse_webhook(json.dumps(body).encode())
    decoded = json.loads(envelope.body())
    assert decoded["mode"] == "standby" and decoded["replyAllowed"] is False
    assert decoded["isRedelivery"] is True


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"x"', b'{"events": []}', b'{"destination": "U", "events": {}}',
     b'{"destination": "U", "events": [1]}', b'{"destination": "U", "events": [{"type": "follow"}]}',
     b'{"destination": "U", "events": [{"type": "a.b", "webhookEventId": "x"}]}', b"\xff\xfe"],
)
def test_malformed_bodies_are_rejected_with_a_reason(body):
    with pytest.raises(InvalidWebhook):
        parse_webhook(body)


class RecordingBroker:
    """Stands in for the broker port in unit tests; the integration tests use RabbitMQ itself."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.published = []

    def __call__(self, messages):
        if self.fail:
            return [BrokerUnavailable("down") for _ in messages]
        self.published.extend(messages)
        return [None for _ in messages]


def test_accept_publishes_each_event_with_its_id():
    body = json.dumps({"destination": "Ubot", "events": [event(event_id="A"), event("message", event_id="B")]}).encode()
    broker = RecordingBroker()
    result = accept_webhook(body, [sign(body)], SECRET, broker)
    assert result.outcome is Outcome.ACCEPTED and result.events == 2
    assert [(m.message_id, m.routing_key) for m in broker.published] == [("A", "line.event.follow"),
                                                                          ("B", "line.event.message")]


@pytest.mark.parametrize(
    ("signatures", "outcome"),
    [([], Outcome.SIGNATURE_MISSING), (["AAAA"], Outcome.SIGNATURE_INVALID), (["x", "y"], Outcome.SIGNATURE_INVALID)],
)
def test_bad_signatures_never_publish(signatures, outcome):
    body = json.dumps({"destination": "Ubot", "events": [event()]}).encode()
    broker = RecordingBroker()
    assert accept_webhook(body, signatures, SECRET, broker).outcome is outcome
    assert broker.published == []


def test_broker_down_is_unavailable():
    body = json.dumps({"destination": "Ubot", "events": [event()]}).encode()
    assert accept_webhook(body, [sign(body)], SECRET, RecordingBroker(fail=True)).outcome is Outcome.UNAVAILABLE


def test_verify_ping_publishes_nothing():
    body = b'{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}'
    broker = RecordingBroker(fail=True)
    assert accept_webhook(body, [sign(body)], SECRET, broker).outcome is Outcome.ACCEPTED
