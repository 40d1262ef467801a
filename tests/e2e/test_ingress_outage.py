"""Broker outage drill: RabbitMQ stops in the middle of a stream of webhooks.

Two ingress-webhook servers (gunicorn, as deployed) take the same stream: one with the durable
spool, one without. Afterwards every event of every webhook that got a 200 is in the queue; the
rest got a non-2xx answer (so LINE's redelivery would bring them back).
"""

import json
import subprocess
import threading
import time
import uuid

import pytest
import requests
from cityline_common.amqp.topology import LINE_EVENTS

from testsupport import TEST_KEYS, drain, sign_webhook, tap_queue, wait_until
from testsupport.processes import RunningProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SECRET = TEST_KEYS["LINE_CHANNEL_SECRET"].encode()


def signed(events):
    body = json.dumps({"destination": "U" + "d" * 32, "events": events}).encode()
    return body, sign_webhook(body)


def follow_event():
    return {"type": "follow", "mode": "active", "timestamp": int(time.time() * 1000),
            "webhookEventId": uuid.uuid4().hex[:26].upper(), "deliveryContext": {"isRedelivery": False},
            "source": {"type": "user", "userId": "U" + uuid.uuid4().hex}, "replyToken": uuid.uuid4().hex}


@pytest.fixture
def tap(amqp_url):
    with tap_queue(amqp_url, LINE_EVENTS, prefix="outage-tap") as name:
        yield name


def test_every_webhook_answered_200_survives_a_broker_restart(migrated_database_url, amqp_url, tap):
    base = {"DATABASE_URL": migrated_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS}
    ports = {"spool": free_port(), "no-spool": free_port()}
    processes = [
        RunningProcess("ingress-spool", ["cityline-serve", "ingress-webhook"],
                       {**base, "INGRESS_WEBHOOK_PORT": str(ports["spool"]), "WEBHOOK_SPOOL": "postgres"},
                       f"http://127.0.0.1:{ports['spool']}/readyz"),
        RunningProcess("ingress-no-spool", ["cityline-serve", "ingress-webhook"],
                       {**base, "INGRESS_WEBHOOK_PORT": str(ports["no-spool"]), "WEBHOOK_SPOOL": "off"},
                       f"http://127.0.0.1:{ports['no-spool']}/readyz"),
        RunningProcess("relay", ["cityline-outbox-relay", "ingress"], base),
    ]
    answers: dict[str, list[tuple[int, list[str]]]] = {"spool": [], "no-spool": []}
    stop = threading.Event()

    def stream(kind):
        url = f"http://127.0.0.1:{ports[kind]}/callback"
        while not stop.is_set():
            events = [follow_event() for _ in range(2)]
            body, signature = signed(events)
            try:
                status = requests.post(url, data=body, headers={"X-Line-Signature": signature}, timeout=5).status_code
            except requests.RequestException:
                status = 0
            answers[kind].append((status, [e["webhookEventId"] for e in events]))
            time.sleep(0.01)

    try:
        for process in processes:
            process.start()
        streams = [threading.Thread(target=stream, args=(kind,)) for kind in answers]
        for thread in streams:
            thread.start()
        time.sleep(2)
        subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=120)
        time.sleep(3)
        subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=120)
        time.sleep(6)
        stop.set()
        for thread in streams:
            thread.join(30)

        accepted = {kind: {i for status, ids in got if status == 200 for i in ids} for kind, got in answers.items()}
        refused = {kind: [status for status, _ in got if status != 200] for kind, got in answers.items()}
        expected = accepted["spool"] | accepted["no-spool"]
        in_queue: set[str] = set()

        def everything_arrived():
            in_queue.update(props.message_id for _, props, _ in drain(amqp_url, tap, timeout=0.5))
            return expected <= in_queue

        wait_until(everything_arrived, timeout=90, message="every accepted event in the queue")
    finally:
        stop.set()
        for process in processes:
            process.stop()

    assert all(status >= 400 or status == 0 for kinds in refused.values() for status in kinds)
    assert refused["no-spool"], "the broker outage was not noticed by the server without a spool"
    assert not refused["spool"], f"the spooling server refused webhooks: {refused['spool'][:5]}"
    assert len(answers["spool"]) > 50
    print(json.dumps({kind: {"requests": len(got), "refused": len(refused[kind])} for kind, got in answers.items()}))
