import json

import pytest
from cityline_common.crypto import CryptoError, FieldCipher, generate_key
from ingress_webhook.domain.webhook import InvalidWebhook, parse_webhook, signature_valid

SECRET = b"8c570fa6dd201bb328f1c1eac23a96d8"
CIPHER = FieldCipher.from_spec(f"k1:{generate_key()}")


def test_line_documented_test_vector():
    body = b'{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}'
    assert signature_valid(SECRET, body, "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=")
    assert not signature_valid(SECRET, body + b" ", "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs=")
    assert not signature_valid(SECRET, body, "not base64 at all é")


def event(kind="follow", event_id="01J0000000000000000000000A", **extra):
    return {"type": kind, "mode": "active", "timestamp": 1795000000000, "webhookEventId": event_id,
            "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": "U" + "1" * 32},
            **extra}


def test_parse_keeps_events_untouched_and_routes_by_type():
    original = event("brandNewType", someFutureField={"nested": [1, 2]})
    [envelope] = parse_webhook(json.dumps({"destination": "Ubot", "events": [original]}).encode())
    assert envelope.routing_key == "line.event.brandNewType"
    message = envelope.sealed(CIPHER)
    assert message.routing_key() == "line.event.brandNewType"
    assert message.open(CIPHER).event == original
    assert message.open(CIPHER).destination == "Ubot"


def test_the_event_travels_sealed_and_bound_to_its_id():
    [envelope] = parse_webhook(json.dumps({"destination": "U" + "d" * 32, "events": [event()]}).encode())
    message = envelope.sealed(CIPHER)
    body = json.dumps(message.payload())
    assert "U" + "1" * 32 not in body and "U" + "d" * 32 not in body  # no LINE id in clear
    moved = message.model_copy(update={"webhook_event_id": "01J0000000000000000000000B"})
    with pytest.raises(CryptoError):
        moved.open(CIPHER)  # a sealed event copied under another id does not open


def test_standby_and_redelivery_are_marked():
    body = {"destination": "Ubot", "events": [event(mode="standby", deliveryContext={"isRedelivery": True})]}
    [envelope] = parse_webhook(json.dumps(body).encode())
    decoded = envelope.sealed(CIPHER).payload()
    assert decoded["mode"] == "standby" and decoded["replyAllowed"] is False
    assert decoded["isRedelivery"] is True


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"x"', b'{"events": []}', b'{"destination": "U", "events": {}}',
     b'{"destination": "U", "events": [1]}', b'{"destination": "U", "events": [{"type": "follow"}]}',
     b'{"destination": "U", "events": [{"type": "a.b", "webhookEventId": "x"}]}', b"\xff\xfe",
     b'{"destination": "U", "events": [{"type": "message", "webhookEventId": "x", "t": "\\u0000"}]}',
     b'{"destination": "U", "events": [{"type": "message", "webhookEventId": "x", "t": "\\ud800"}]}',
     b'{"destination": "U", "events": [{"type": "follow", "webhookEventId": "x"}]}',  # no timestamp
     b'{"destination": "U", "events": [{"type": "follow", "webhookEventId": "x", "timestamp": "1"}]}',
     b'{"destination": "U", "events": [{"type": "follow", "webhookEventId": "x", "timestamp": 1.5}]}'],
)
def test_malformed_bodies_are_rejected_with_a_reason(body):
    with pytest.raises(InvalidWebhook):
        parse_webhook(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # Python's JSON parser recurses once per level and raises RecursionError, not a JSONDecodeError.
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64 levels"),
        (b'{"destination": "U", "events": [{"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}",
         "nested deeper than 64 levels"),
        # Parsed, but deeper than any LINE event: refused before anything walks it recursively.
        (b'{"destination": "U", "events": [{"deep": ' + b"[" * 80 + b"]" * 80 + b"}]}",
         "nested deeper than 64 levels"),
        # CPython refuses int() of more than 4,300 digits with a ValueError (CVE-2020-10735).
        (b'{"destination": "U", "events": [], "n": ' + b"9" * 4301 + b"}", "number too long"),
        (b'{"destination": "U", "events": [{"type": "follow", "webhookEventId": "x", "timestamp": '
         + b"1" * 5000 + b"}]}", "number too long"),
    ],
)
def test_bodies_python_cannot_parse_are_rejected_with_a_reason(body, reason):
    with pytest.raises(InvalidWebhook, match=reason):
        parse_webhook(body)


def test_the_depth_limit_leaves_room_for_every_line_event():
    nested = {"a": [{"b": [{"c": [1]}]}]}  # deeper than any event LINE documents
    [envelope] = parse_webhook(json.dumps({"destination": "U", "events": [event(extra=nested)]}).encode())
    assert envelope.event["extra"] == nested and envelope.timestamp_ms == 1795000000000
