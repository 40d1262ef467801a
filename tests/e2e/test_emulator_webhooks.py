"""The LINE emulator sends every event type of LINE's webhook.yml, really signed, to
ingress-webhook; each arrives exactly once on its routing key, redeliveries and repeats included."""


import pytest
import requests
import yaml
from cityline_common.amqp.topology import LINE_EVENTS
from cityline_common.settings import load_settings
from ingress_webhook.bootstrap import bootstrap
from ingress_webhook.config import Settings
from ingress_webhook.entrypoints.flask_app import create_app

from testsupport import drain, opened_line_event, tap_queue
from testsupport.emulator import running_emulator, serve
from testsupport.openapi import line_openapi_dir

pytestmark = pytest.mark.e2e
EVENT_TYPES = sorted(yaml.safe_load((line_openapi_dir() / "webhook.yml").read_text(encoding="utf-8"))
                     ["components"]["schemas"]["Event"]["discriminator"]["mapping"])


@pytest.fixture
def line_to_broker(service_env, amqp_url):
    service = bootstrap(load_settings(Settings))
    with tap_queue(amqp_url, LINE_EVENTS, prefix="e2e-tap") as tap, serve(create_app(service)) as ingress_url, \
            running_emulator(webhook_url=f"{ingress_url}/callback", residents=20) as (emulator_url, emulator):
        yield emulator_url, emulator, tap
    service.publisher.close()


def test_every_webhook_yml_event_type_arrives_once_on_its_routing_key(line_to_broker, amqp_url):
    url, emulator, tap = line_to_broker
    user = next(iter(emulator.world.residents))
    sent = requests.post(f"{url}/_emulator/events", json={"examples": EVENT_TYPES, "userId": user}, timeout=30)
    events = sent.json()["events"]
    log = requests.get(f"{url}/_emulator/webhooks", timeout=5).json()["webhooks"]
    assert log[-1]["status"] == 200
    got = drain(amqp_url, tap)
    assert sorted((m.routing_key, p.message_id) for m, p, _ in got) == sorted(
        (f"line.event.{e['type']}", e["webhookEventId"]) for e in events)
    assert {m.routing_key for m, _, _ in got} == {f"line.event.{kind}" for kind in EVENT_TYPES}
    assert [opened_line_event(body) for _, _, body in got] == events  # untouched


def test_redelivered_and_repeated_events_arrive_once(line_to_broker, amqp_url):
    url, emulator, tap = line_to_broker
    user = list(emulator.world.residents)[1]
    first = requests.post(f"{url}/_emulator/residents/{user}/follow", timeout=10).json()["events"][0]
    redelivered = {**first, "deliveryContext": {"isRedelivery": True}}
    again = requests.post(f"{url}/_emulator/events", json={"events": [redelivered, first, redelivered]}, timeout=10)
    assert again.status_code == 200
    message = requests.post(f"{url}/_emulator/residents/{user}/message", json={"text": "こんにちは"},
                            timeout=10).json()["events"][0]
    got = drain(amqp_url, tap)
    assert sorted(p.message_id for _, p, _ in got) == sorted([first["webhookEventId"], message["webhookEventId"]])
    assert all(entry["status"] == 200 for entry in requests.get(f"{url}/_emulator/webhooks", timeout=5)
               .json()["webhooks"])
