"""Webhooks the emulator sends: LINE's shapes (webhook.yml), real signatures, redelivery."""

import json

import jsonschema_rs
import pytest
import requests
import yaml
from line_emulator.spec import _json_schema_components, find_openapi_dir
from line_emulator.webhooks import sign
from linebot.v3 import WebhookParser
from linebot.v3.models.events import UnknownEvent
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent

from testsupport import TEST_KEYS, wait_until
from testsupport.emulator import WebhookReceiver, running_emulator, serve

SECRET = TEST_KEYS["LINE_CHANNEL_SECRET"]
WEBHOOK_YML = yaml.safe_load((find_openapi_dir() / "webhook.yml").read_text(encoding="utf-8"))
EVENT_TYPES = sorted(WEBHOOK_YML["components"]["schemas"]["Event"]["discriminator"]["mapping"])
CALLBACK = jsonschema_rs.Draft7Validator({**_json_schema_components(WEBHOOK_YML),
                                          "$ref": "#/components/schemas/CallbackRequest"})


def test_line_signature_test_vector():
    body = b'{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}'
    assert sign("8c570fa6dd201bb328f1c1eac23a96d8", body) == "GhRKmvmHys4Pi8DxkF4+EayaH0OqtJtaZxgTD9fMDLs="


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    with serve(receiver) as url, running_emulator(webhook_url=url, residents=20) as (emulator_url, emulator):
        yield receiver, emulator_url, emulator


def test_every_event_type_of_webhook_yml_is_valid_signed_and_parses(receiver):
    received, url, emulator = receiver
    assert len(EVENT_TYPES) >= 19
    user = next(iter(emulator.world.residents))
    response = requests.post(f"{url}/_emulator/events", json={"examples": EVENT_TYPES, "userId": user}, timeout=10)
    assert response.status_code == 200
    [(body, headers)] = received.received
    payload = json.loads(body)
    assert [event["type"] for event in payload["events"]] == EVENT_TYPES  # several events in one request
    errors = [f"{list(e.instance_path)}: {e.message}" for e in CALLBACK.iter_errors(payload)]
    assert errors == []
    events = WebhookParser(SECRET).parse(body.decode(), headers["X-Line-Signature"])
    assert len(events) == len(EVENT_TYPES)
    assert not [e for e in events if isinstance(e, UnknownEvent)]
    assert len({event["webhookEventId"] for event in payload["events"]}) == len(EVENT_TYPES)
    assert all(event["deliveryContext"] == {"isRedelivery": False} for event in payload["events"])


def test_scripted_residents(receiver):
    received, url, emulator = receiver
    user = list(emulator.world.residents)[3]
    assert requests.post(f"{url}/_emulator/residents/{user}/follow", timeout=10).status_code == 200
    requests.post(f"{url}/_emulator/residents/{user}/message", json={"text": "避難所はどこ？"}, timeout=10)
    requests.post(f"{url}/_emulator/residents/{user}/postback", json={"data": "settings=bousai"}, timeout=10)
    parser = WebhookParser(SECRET)
    events = [parser.parse(body.decode(), headers["X-Line-Signature"])[0] for body, headers in received.received]
    assert [type(e) for e in events] == [FollowEvent, MessageEvent, PostbackEvent]
    assert events[1].message.text == "避難所はどこ？"
    assert all(e.source.user_id == user for e in events)
    assert emulator.world.resident(user).friend
    assert requests.post(f"{url}/_emulator/residents/{user}/message", json={}, timeout=10).status_code == 400


def test_non_2xx_is_redelivered_with_the_same_ids_when_enabled():
    receiver = WebhookReceiver(statuses=[500, 503, 200])
    with serve(receiver) as hook, running_emulator(webhook_url=hook, residents=5, redelivery=True,
                                                   redelivery_delay=0.05) as (url, emulator):
        user = next(iter(emulator.world.residents))
        requests.post(f"{url}/_emulator/residents/{user}/follow", timeout=10)
        wait_until(lambda: len(receiver.received) == 3, message="three attempts")
        bodies = [json.loads(body) for body, _ in receiver.received]
    ids = {body["events"][0]["webhookEventId"] for body in bodies}
    assert len(ids) == 1
    assert [body["events"][0]["deliveryContext"]["isRedelivery"] for body in bodies] == [False, True, True]


def test_without_redelivery_a_failure_is_logged_and_not_retried():
    receiver = WebhookReceiver(statuses=[500])
    with serve(receiver) as hook, running_emulator(webhook_url=hook, residents=5) as (url, emulator):
        user = next(iter(emulator.world.residents))
        requests.post(f"{url}/_emulator/residents/{user}/follow", timeout=10)
        log = requests.get(f"{url}/_emulator/webhooks", timeout=10).json()["webhooks"]
    assert len(receiver.received) == 1
    assert log[-1]["status"] == 500 and log[-1]["types"] == ["follow"]


def test_richmenuswitch_tap_changes_what_is_shown_and_says_so(receiver):
    received, url, emulator = receiver
    user = list(emulator.world.residents)[5]
    from line_emulator.world import RichMenu

    with emulator.world.lock:
        emulator.world.rich_menus["richmenu-x"] = RichMenu("richmenu-x", {}, b"png", "image/png")
        emulator.world.aliases["tab-bousai"] = "richmenu-x"
        emulator.world.resident(user).friend = True
    requests.post(f"{url}/_emulator/residents/{user}/postback",
                  json={"data": "tab=bousai", "richMenuAliasId": "tab-bousai"}, timeout=10)
    requests.post(f"{url}/_emulator/residents/{user}/postback",
                  json={"data": "tab=none", "richMenuAliasId": "tab-missing"}, timeout=10)
    params = [json.loads(body)["events"][0]["postback"]["params"] for body, _ in received.received]
    assert params == [{"newRichMenuAliasId": "tab-bousai", "status": "SUCCESS"},
                      {"newRichMenuAliasId": "tab-missing", "status": "RICHMENU_ALIAS_ID_NOTFOUND"}]
    # On LINE a tab switch changes what the resident sees, never the per-user link.
    seen = requests.get(f"{url}/_emulator/residents/{user}", timeout=10).json()
    assert (seen["linkedRichMenuId"], seen["richMenuId"], seen["displayedRichMenuId"]) == (None, None, "richmenu-x")
    assert emulator.world.menu_for(user) is None
