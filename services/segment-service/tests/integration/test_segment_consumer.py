"""segment-service's consumer and API against the real database and broker."""

import threading
import uuid

import pika
import pytest
from cityline_common.amqp import ConfirmingPublisher, OutboundMessage
from cityline_common.amqp.topology import LINE_EVENTS, declare_with_url
from cityline_common.contracts import open_line_user_id
from cityline_common.line_events import LineWebhookEvent
from cityline_common.settings import load_settings
from segment_service.adapters.orm import plumbing, residents
from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from segment_service.entrypoints.consumer import build_consumer
from segment_service.entrypoints.flask_app import create_app
from sqlalchemy import select

from testsupport import drain, fixed_cipher, internal_headers, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def service(service_env, amqp_url):
    declare_with_url(amqp_url)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    connection.channel().queue_purge("segment.line-events")  # other tests' events are not ours
    connection.close()
    service = bootstrap(load_settings(Settings))
    with service.engine.begin() as connection:  # each test starts from an empty schema
        connection.execute(residents.delete())
        connection.execute(plumbing.outbox.delete())
        connection.execute(plumbing.processed_messages.delete())
    yield service
    service.engine.dispose()


def line_event(kind, user, timestamp):
    """A LINE event as ingress-webhook publishes it: sealed in its envelope contract."""
    event_id = str(uuid.uuid4())
    event = {"type": kind, "mode": "active", "timestamp": timestamp, "webhookEventId": event_id,
             "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": user}}
    return LineWebhookEvent.seal(fixed_cipher(), destination="U" + "0" * 32, webhook_event_id=event_id,
                                 event_type=kind, is_redelivery=False, standby=False, event=event).outbound(event_id)


def test_follow_and_unfollow_update_residents_encrypted_with_outbox_events(service, amqp_url):
    declare_with_url(amqp_url)
    consumer = build_consumer(service)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    publisher = ConfirmingPublisher(amqp_url)
    publisher.start()
    alice, bob = "U" + "a1" * 16, "U" + "b2" * 16
    try:
        follow = line_event("follow", alice, 1000)
        publisher.publish_and_wait(follow)
        publisher.publish_and_wait(follow)  # LINE redelivered it: still one resident, one event
        publisher.publish_and_wait(line_event("follow", bob, 1000))
        publisher.publish_and_wait(line_event("unfollow", bob, 2000))
        publisher.publish_and_wait(line_event("follow", bob, 1500))  # late and older: ignored
        wait_until(lambda: _counts(service) == {"following": 1, "blocked": 1},
                   message="one following, one blocked")
        for message_id, message_type, body in (("bad-1", "line.WebhookEvent.v1", b"not json"),
                                               ("bad-2", "line.WebhookEvent.v9", b"{}"),
                                               ("bad-3", "line.webhook.follow", b"{}")):
            publisher.publish_and_wait(OutboundMessage(exchange=LINE_EVENTS, routing_key="line.event.follow",
                                                       body=body, message_id=message_id, type=message_type))
        dead: list = []
        wait_until(lambda: dead.extend(drain(amqp_url, "segment.line-events.dlq", timeout=0.2)) or len(dead) >= 3,
                   message="three dead letters")
        reasons = {properties.message_id: properties.headers["x-error"] for _, properties, _ in dead}
        assert reasons["bad-1"].startswith("line.WebhookEvent.v1 does not validate")
        assert reasons["bad-2"].startswith("unknown message type 'line.WebhookEvent.v9'")
        assert reasons["bad-3"].startswith("unknown message type 'line.webhook.follow'")
    finally:
        publisher.close()
        consumer.stop()
        thread.join(10)

    with service.engine.connect() as connection:
        stored = connection.execute(select(residents)).all()
        outbox = connection.execute(select(plumbing.outbox).order_by(plumbing.outbox.c.created_at)).all()
    assert len(stored) == 2
    for row in stored:  # the LINE user id is never stored in clear
        assert alice not in row.line_user_id_ct and bob not in row.line_user_id_ct
        assert row.line_user_id_ct.startswith("v2:test2:")  # row-bound, under the active key
        assert row.line_user_id_bidx.startswith("idx1:")  # the index names its key
    assert [row.routing_key for row in outbox] == [
        "segment.resident.followed", "segment.resident.followed", "segment.resident.unfollowed"
    ]
    followed = [row.payload for row in outbox if row.type == "segment.ResidentFollowed.v1"]
    assert {open_line_user_id(fixed_cipher(), uuid.UUID(p["residentId"]), p["lineUserIdSealed"])
            for p in followed} == {alice, bob}
    assert not any(alice in str(row.payload) or bob in str(row.payload) for row in outbox)


def _counts(service):
    from segment_service.service_layer.views import resident_counts

    return service.bus.query(resident_counts)


def admin() -> dict[str, str]:  # システム管理者 publishes the taxonomy
    """A fresh token each time: a module-level one expires (5 minutes) in a long run."""
    return internal_headers("segment", ((None, "admin"),))

def viewer() -> dict[str, str]:
    """A fresh token each time: a module-level one expires (5 minutes) in a long run."""
    return internal_headers("segment", (("総務課", "viewer"),))



def test_taxonomy_api_versions_and_validates(service):
    client = create_app(service).test_client()
    document = {"municipality": {"code": "282073", "name": "伊丹市"},
                "categories": [{"key": f"c{uuid.uuid4().hex[:6]}", "label": "防災"}]}
    created = client.post("/internal/taxonomy", json=document, headers=admin())
    assert created.status_code == 201
    again = client.post("/internal/taxonomy", json=document, headers=admin())
    assert again.status_code == 200 and again.json["version"] == created.json["version"]
    current = client.get("/internal/taxonomy", headers=viewer()).json
    assert current["version"] == created.json["version"]
    assert current["taxonomy"]["categories"] == document["categories"]
    bad = client.post("/internal/taxonomy", json={"municipality": {"code": "1"}}, headers=admin())
    assert bad.status_code == 400 and "municipality.code" in bad.json["reason"]
    assert client.post("/internal/taxonomy", data="nope", content_type="text/plain", headers=admin()).status_code == 400
    assert client.post("/internal/taxonomy", json=document, headers=viewer()).status_code == 403
    assert client.post("/internal/taxonomy", json=document).status_code == 401
    assert client.get("/internal/taxonomy", headers=viewer()).json["version"] == created.json["version"]


def test_health_readiness_and_metrics(service):
    client = create_app(service).test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "broker": "ok"}
    assert client.get("/internal/residents/stats", headers=viewer()).status_code == 200
    metrics = client.get("/metrics").data.decode()
    assert 'cityline_http_requests_total{code="200",method="GET",route="/internal/residents/stats"' in metrics
