"""A signed follow webhook travels ingress-webhook → RabbitMQ → segment-service → outbox → RabbitMQ.

Every hop is the real process as `make up` runs it (gunicorn apps, the consumer, the relay).
"""

import json
import time
import uuid

import pytest
import requests
from cityline_common.amqp.topology import CITY_EVENTS, declare_with_url
from cityline_common.contracts import open_line_user_id

from testsupport import TEST_KEYS, drain, fixed_cipher, internal_headers, sign_webhook, tap_queue, wait_until
from testsupport.processes import RunningProcess, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(migrated_database_url, amqp_url):
    declare_with_url(amqp_url)
    ingress_port, segment_port = free_port(), free_port()
    env = {"DATABASE_URL": migrated_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS,
           "INGRESS_WEBHOOK_PORT": str(ingress_port), "SEGMENT_SERVICE_PORT": str(segment_port)}
    processes = [
        RunningProcess("ingress", ["cityline-serve", "ingress-webhook"], env,
                       f"http://127.0.0.1:{ingress_port}/readyz"),
        RunningProcess("segment", ["cityline-serve", "segment-service"], env,
                       f"http://127.0.0.1:{segment_port}/readyz"),
        RunningProcess("segment-consumer", ["segment-service-consumer"], env),
        RunningProcess("relay", ["cityline-outbox-relay", "segment"], env),
    ]
    try:
        for process in processes:
            process.start()
        yield {"ingress": f"http://127.0.0.1:{ingress_port}", "segment": f"http://127.0.0.1:{segment_port}"}
    finally:
        for process in processes:
            process.stop()
        for process in processes:
            print(f"--- {process.name} ---\n{process.output()}")


def signed_post(url, payload):
    body = json.dumps(payload).encode()
    signature = sign_webhook(body)
    return requests.post(url, data=body, headers={"X-Line-Signature": signature,
                                                  "Content-Type": "application/json"}, timeout=5)


@pytest.fixture
def resident_events(amqp_url):
    with tap_queue(amqp_url, CITY_EVENTS, "segment.resident.#") as name:
        yield name


def test_follow_reaches_segment_service_and_its_event_leaves_through_the_outbox(stack, amqp_url, resident_events):
    tap = resident_events

    user = "U" + uuid.uuid4().hex
    follow = {"type": "follow", "mode": "active", "timestamp": int(time.time() * 1000),
              "webhookEventId": uuid.uuid4().hex, "deliveryContext": {"isRedelivery": False}, "replyToken": "r" * 32,
              "source": {"type": "user", "userId": user}, "follow": {"isUnblocked": False}}
    response = signed_post(f"{stack['ingress']}/callback", {"destination": "U" + "d" * 32, "events": [follow]})
    assert response.status_code == 200

    # Other tests' residents may be in the same queues: look for this resident's event.
    seen: list = []

    def ours():
        seen.extend(drain(amqp_url, tap, timeout=0.3))
        return [entry for entry in seen
                if entry[1].type == "segment.ResidentFollowed.v1" and _names(json.loads(entry[2]), user)]

    [(method, properties, _body)] = wait_until(ours, message="ResidentFollowed on city.events")
    assert method.routing_key == "segment.resident.followed"
    assert properties.type == "segment.ResidentFollowed.v1"
    assert user not in _body.decode()  # the LINE user id travels sealed
    stats = f"{stack['segment']}/internal/residents/stats"
    assert requests.get(stats, timeout=5).status_code == 401  # internal APIs deny by default
    assert requests.get(stats, headers=internal_headers("segment"), timeout=5).json()["following"] >= 1
    # The trace that started at the webhook request continues through the outbox hop.
    assert properties.headers.get("traceparent")


def _names(payload, user):
    """Whether a ResidentFollowed is about ``user``: its sealed LINE user id opens to it."""
    return open_line_user_id(fixed_cipher(), uuid.UUID(payload["residentId"]), payload["lineUserIdSealed"]) == user
