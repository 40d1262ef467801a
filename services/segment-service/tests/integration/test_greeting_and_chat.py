"""The greeting and the 受信設定 chat through the real consumer, database and broker, answered on the
LINE emulator (what it recorded as sent is what residents saw)."""

import threading
import uuid
from pathlib import Path

import pika
import pytest
import yaml
from cityline_common.amqp import ConfirmingPublisher
from cityline_common.amqp.topology import declare_with_url
from cityline_common.line_events import LineWebhookEvent
from cityline_common.settings import load_settings
from segment_service.adapters.orm import plumbing, residents
from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import PublishTaxonomy, SetAccountText
from segment_service.entrypoints.consumer import build_consumer
from segment_service.service_layer.preferences import preferences_of_line_user
from segment_service.service_layer.replies import retry_key_for
from sqlalchemy import select

from testsupport import fixed_cipher, wait_until
from testsupport.emulator import running_emulator

pytestmark = pytest.mark.integration

TAXONOMY = yaml.safe_load((Path(__file__).parents[4] / "deploy/demo/itami-taxonomy.yaml").read_text("utf-8"))


@pytest.fixture
def stack(service_env, amqp_url, monkeypatch):
    declare_with_url(amqp_url)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    connection.channel().queue_purge("segment.line-events")
    connection.close()
    with running_emulator(residents=5) as (url, emulator):
        monkeypatch.setenv("LINE_API_BASE_URL", url)
        monkeypatch.setenv("LINE_API_DATA_BASE_URL", url)
        service = bootstrap(load_settings(Settings))
        with service.engine.begin() as db:
            db.execute(residents.delete())
            db.execute(plumbing.outbox.delete())
        # Itami's, made unique so it becomes the current version whatever other tests published before.
        unique = {**TAXONOMY, "categories": [*TAXONOMY["categories"],
                                             {"key": f"t{uuid.uuid4().hex[:8]}", "label": "試験用"}]}
        version, created = service.bus.handle(PublishTaxonomy(unique))
        assert created
        consumer = build_consumer(service)
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        publisher = ConfirmingPublisher(amqp_url)
        publisher.start()
        try:
            yield service, emulator, publisher, version
        finally:
            publisher.close()
            consumer.stop()
            thread.join(10)
            service.engine.dispose()


def send(publisher, emulator, user, kind, timestamp, **fields):
    """A LINE event as ingress-webhook publishes it, with a reply token the emulator issued."""
    event_id = str(uuid.uuid4())
    event = {"type": kind, "mode": "active", "timestamp": timestamp, "webhookEventId": event_id,
             "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": user},
             "replyToken": emulator.world.issue_reply_token(user), **fields}
    message = LineWebhookEvent.seal(fixed_cipher(), destination="U" + "0" * 32, webhook_event_id=event_id,
                                    event_type=kind, is_redelivery=False, standby=False, event=event)
    publisher.publish_and_wait(message.outbound(event_id))
    return message.outbound(event_id)


def sent_to(emulator, user):
    return emulator.world.messages_for(user)


def test_follow_greets_refollow_says_answers_were_kept_and_the_chat_changes_preferences(stack):
    service, emulator, publisher, v = stack
    user = next(iter(emulator.world.residents))
    emulator.world.residents[user].friend = True
    service.bus.handle(SetAccountText("greeting", "伊丹市です。受信設定をどうぞ。", "staff-test"))

    follow = send(publisher, emulator, user, "follow", 1000, follow={"isUnblocked": False})
    wait_until(lambda: len(sent_to(emulator, user)) == 1, message="the greeting")
    [greeting] = sent_to(emulator, user)
    assert greeting["endpoint"] == "reply" and greeting["message"]["text"] == "伊丹市です。受信設定をどうぞ。"
    assert greeting["message"]["quickReply"]["items"][0]["action"]["data"] == "action=preferences"
    publisher.publish_and_wait(follow)  # LINE redelivered the follow: nobody is greeted twice

    send(publisher, emulator, user, "message", 2000, message={"type": "text", "id": "1", "text": "受信設定"})
    wait_until(lambda: len(sent_to(emulator, user)) == 2, message="the categories")
    assert "受け取りたい情報" in sent_to(emulator, user)[1]["message"]["text"]
    send(publisher, emulator, user, "postback", 3000, postback={"data": f"pref=cat&v={v}&k=kosodate"})
    send(publisher, emulator, user, "postback", 3100, postback={"data": f"pref=cat&v={v}&k=forged"})  # refused
    send(publisher, emulator, user, "postback", 3200, postback={"data": f"pref=done&v={v}"})
    wait_until(lambda: len(sent_to(emulator, user)) == 4, message="the toggle and the summary")
    assert sent_to(emulator, user)[3]["message"]["type"] == "flex"
    assert service.bus.query(preferences_of_line_user(user)).categories == {"bousai", "kosodate"}

    send(publisher, emulator, user, "unfollow", 4000)
    emulator.world.residents[user].friend = True  # came back
    send(publisher, emulator, user, "follow", 5000, follow={"isUnblocked": True})
    wait_until(lambda: len(sent_to(emulator, user)) == 5, message="the re-follow greeting")
    assert "以前の受信設定はそのまま" in sent_to(emulator, user)[4]["message"]["text"]
    assert service.bus.query(preferences_of_line_user(user)).categories == {"bousai", "kosodate"}  # kept

    with service.engine.connect() as db:
        outbox = db.execute(select(plumbing.outbox.c.type, plumbing.outbox.c.payload)).all()
    changed = [payload for kind, payload in outbox if kind == "segment.PreferencesChanged.v1"]
    assert len(changed) == 1 and changed[0]["source"] == "chat"  # the forged tap changed nothing
    assert len(sent_to(emulator, user)) == 5  # nothing answered twice, nothing to the forged tap


def test_a_used_up_reply_token_falls_back_to_one_push_under_the_events_retry_key(stack):
    _service, emulator, publisher, _v = stack
    user = list(emulator.world.residents)[1]
    emulator.world.residents[user].friend = True
    event_id = str(uuid.uuid4())
    token = emulator.world.issue_reply_token(user)
    assert emulator.world.use_reply_token(token) == user  # used before the consumer gets to it
    event = {"type": "follow", "mode": "active", "timestamp": 1000, "webhookEventId": event_id,
             "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": user},
             "replyToken": token, "follow": {"isUnblocked": False}}
    message = LineWebhookEvent.seal(fixed_cipher(), destination="U" + "0" * 32, webhook_event_id=event_id,
                                    event_type="follow", is_redelivery=False, standby=False, event=event)
    publisher.publish_and_wait(message.outbound(event_id))
    wait_until(lambda: len(sent_to(emulator, user)) == 1, message="the greeting, pushed")
    [pushed] = sent_to(emulator, user)
    assert pushed["endpoint"] == "push" and pushed["retryKey"] == retry_key_for(event_id, "greeting")
    assert pushed["message"]["quickReply"]["items"][0]["action"]["data"] == "action=preferences"
