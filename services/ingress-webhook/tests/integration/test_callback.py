"""POST /callback against the real broker."""

import base64
import hashlib
import hmac
import json
import uuid

import pika
import pytest
from cityline_common.amqp import ConfirmingPublisher
from cityline_common.amqp.topology import LINE_EVENTS, declare_with_url
from cityline_common.settings import load_settings
from ingress_webhook.bootstrap import bootstrap
from ingress_webhook.config import Settings
from ingress_webhook.entrypoints.flask_app import create_app

from testsupport import drain

pytestmark = pytest.mark.integration
SECRET = b"8c570fa6dd201bb328f1c1eac23a96d8"


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()


@pytest.fixture
def tap(amqp_url):
    """A queue that sees everything published to line.events."""
    declare_with_url(amqp_url)
    name = f"tap-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(name, LINE_EVENTS, "#")
    yield name
    channel.queue_delete(name)
    connection.close()


@pytest.fixture
def client(service_env):
    service = bootstrap(load_settings(Settings))
    yield create_app(service).test_client()
    service.publisher.close()


def webhook(*events):
    return json.dumps({"destination": "U" + "f" * 32, "events": list(events)}, ensure_ascii=False).encode()


def event(kind, **extra):
    return {"type": kind, "mode": "active", "timestamp": 1700000000000, "webhookEventId": str(uuid.uuid4()),
            "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": "U" + "2" * 32},
            **extra}


def test_signed_events_are_published_before_200(client, tap, amqp_url):
    events = [event("follow", follow={"isUnblocked": False}), event("message", message={"type": "text", "id": "1",
              "text": "こんにちは", "quoteToken": "q"}), event("somethingNew", whatever=1)]
    body = webhook(*events)
    response = client.post("/callback", data=body, headers={"x-line-signature": sign(body),
                                                            "Content-Type": "application/json"})
    assert response.status_code == 200
    got = drain(amqp_url, tap)
    assert [(m.routing_key, p.message_id) for m, p, _ in got] == [
        (f"line.event.{e['type']}", e["webhookEventId"]) for e in events
    ]
    assert [json.loads(b)["event"] for _, _, b in got] == events
    assert all(p.delivery_mode == 2 and "traceparent" in p.headers for _, p, _ in got)


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 400), ({"X-Line-Signature": "AAAA"}, 401), ({"X-Line-Signature": ""}, 401)],
)
def test_unsigned_or_badly_signed_requests_publish_nothing(client, tap, amqp_url, headers, status):
    response = client.post("/callback", data=webhook(event("follow")), headers=headers)
    assert response.status_code == status
    assert "reason" not in response.json
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_tampered_body_and_duplicate_signature_headers(client, tap, amqp_url):
    body = webhook(event("follow"))
    tampered = body.replace(b"follow", b"unfollow")
    assert client.post("/callback", data=tampered, headers={"X-Line-Signature": sign(body)}).status_code == 401
    both = [("X-Line-Signature", sign(body)), ("x-line-signature", sign(body))]
    assert client.post("/callback", data=body, headers=both).status_code == 401
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_signed_garbage_is_400_with_a_reason(client, tap, amqp_url):
    body = b'{"destination": "U1", "events": [{"type": "follow"}]}'
    response = client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)})
    assert response.status_code == 400 and "webhookEventId" in response.json["reason"]
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_oversized_body_is_413(client, tap, amqp_url):
    body = webhook(event("message", padding="x" * 2_000_000))
    assert client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)}).status_code == 413
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_broker_down_answers_503(service_env, monkeypatch):
    monkeypatch.setenv("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2F")
    settings = load_settings(Settings)
    publisher = ConfirmingPublisher(settings.amqp_url)
    publisher.start(wait=0.2)
    client = create_app(bootstrap(settings, publisher)).test_client()
    body = webhook(event("follow"))
    assert client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)}).status_code == 503
    assert client.get("/readyz").status_code == 503
    publisher.close()
