"""Deliveries end to end on the real parts: PostgreSQL, RabbitMQ, segment-service (served in this process
on a port of its own, frozen recipient lists and all), the outbox relay, the sender consuming
``dispatcher.send-jobs``, and the LINE emulator recording what each resident received.

Every lifecycle path through the internal API as the console calls it; an author cannot approve their
own delivery; cancelled and unapproved deliveries never send; a delivery reaches each of its recipients
exactly once; a recurring delivery fires when its time comes (a controllable clock) and waits for the
next occurrence; a delivery paused by staff sends nothing more until resumed."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cityline_common.amqp.publisher import ConfirmingPublisher
from cityline_common.amqp.topology import declare_with_url
from cityline_common.relay import OutboxRelay
from cityline_common.settings import load_settings

from testsupport import TEST_KEYS, internal_headers, wait_until
from testsupport.databases import migrated_database
from testsupport.emulator import running_emulator, serve

pytestmark = pytest.mark.e2e

RESIDENTS = 1_200  # three send jobs of ≤ 500
DEPARTMENT = "kosodate"
AUTHOR = (((DEPARTMENT, "author"),), "author-1")
APPROVER = (((DEPARTMENT, "approver"),), "approver-1")
OTHER = ((("bousai", "author"),), "author-2")


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="module")
def stack(amqp_url):
    from dispatcher.bootstrap import bootstrap as dispatcher_bootstrap
    from dispatcher.config import Settings as DispatcherSettings
    from dispatcher.entrypoints.flask_app import create_app as dispatcher_app
    from dispatcher.entrypoints.sender import Sender
    from dispatcher.manifest import MANIFEST
    from dispatcher.service_layer.sending import RateLimiter, SendLoop
    from segment_service.bootstrap import bootstrap as segment_bootstrap
    from segment_service.config import Settings as SegmentSettings
    from segment_service.domain.commands import PublishTaxonomy
    from segment_service.entrypoints.flask_app import create_app as segment_app

    declare_with_url(amqp_url)
    with migrated_database("deliveries") as database_url, \
            running_emulator(residents=RESIDENTS, friends=RESIDENTS) as (line_url, emulator):
        env = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS,
               "LINE_API_BASE_URL": line_url, "LINE_API_DATA_BASE_URL": line_url,
               "SENDING_HOURS_START": "00:00", "SENDING_HOURS_END": "23:59"}
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            segment = segment_bootstrap(load_settings(SegmentSettings))
            segment.bus.handle(PublishTaxonomy({"municipality": {"code": "282073", "name": "伊丹市"},
                                                "categories": [{"key": "bousai", "label": "防災",
                                                                "always_delivered": True},
                                                               {"key": "kosodate", "label": "子育て"}]}))
            with segment.bus.uow_factory() as uow:
                uow.residents.register_imported(sorted(emulator.world.residents))
                uow.commit()
            with serve(segment_app(segment)) as segment_url:
                patch.setenv("SEGMENT_SERVICE_URL", segment_url)
                clock = Clock()
                service = dispatcher_bootstrap(load_settings(DispatcherSettings), clock=clock)
                publisher = ConfirmingPublisher(amqp_url, name="test-relay")
                publisher.start()
                relay = OutboxRelay(service.engine, MANIFEST.plumbing, publisher, poll_interval=0.05)
                loop = SendLoop(service.bus, service.ports.recipients, service.ports.line, RateLimiter(150),
                                clock=clock)
                sender = Sender(service, loop, concurrency=8)
                threads = [threading.Thread(target=relay.run_forever, daemon=True),
                           threading.Thread(target=sender.run, daemon=True)]
                for thread in threads:
                    thread.start()
                wait_until(sender.consuming.is_set, timeout=15, message="sender consuming")
                try:
                    yield dispatcher_app(service).test_client(), line_url, emulator, service, clock
                finally:
                    sender.stop()
                    relay.stop()
                    for thread in threads:
                        thread.join(timeout=10)
                    publisher.close()
                    service.engine.dispose()
                    segment.engine.dispose()


def as_(who):
    roles, staff_id = who
    return internal_headers("dispatcher", roles, staff_id=staff_id)


def draft(client, text, **extra):
    body = {"department": DEPARTMENT, "title": f"お知らせ {text[:40]}", "category": "kosodate",
            "messages": [{"type": "text", "text": text}], "target": {"kind": "everyone"}, **extra}
    created = client.post("/internal/deliveries", json=body, headers=as_(AUTHOR))
    assert created.status_code == 201, created.json
    return created.json["id"]


def act(client, delivery_id, action, who, **body):
    current = client.get(f"/internal/deliveries/{delivery_id}", headers=as_(who)).json
    version = {"version": current["version"]} if "version" in current else {}
    return client.post(f"/internal/deliveries/{delivery_id}/{action}", json={**version, **body}, headers=as_(who))


def received(line_url, text):
    contents = requests.get(f"{line_url}/_emulator/received", params={"text": text}, timeout=10).json()["contents"]
    return contents[0] if contents else None


def test_a_delivery_is_drafted_approved_by_another_person_and_reaches_every_friend_once(stack):
    client, line_url, _emulator, _service, _clock = stack
    text = f"子育て広場のお知らせ {uuid.uuid4().hex[:6]}"
    delivery_id = draft(client, text)
    assert act(client, delivery_id, "start", AUTHOR).json["code"] == "illegal_transition"  # a draft never sends
    assert act(client, delivery_id, "submit", AUTHOR).json["status"] == "awaiting_approval"
    refused = act(client, delivery_id, "approve", AUTHOR)
    assert (refused.status_code, refused.json["code"]) == (403, "self_approval")  # not even through the API
    outsider = act(client, delivery_id, "approve", OTHER)
    assert outsider.status_code == 404  # another department's delivery is not even there
    approved = act(client, delivery_id, "approve", APPROVER, comment="確認しました")
    assert approved.json["status"] == "approved" and approved.json["reviewed"]["messages"][0]["text"] == text
    count = client.post(f"/internal/deliveries/{delivery_id}/count", headers=as_(AUTHOR)).json
    assert count.get("recipients") == RESIDENTS, count
    started = act(client, delivery_id, "start", AUTHOR)
    assert started.status_code == 200 and started.json["status"] in ("sending", "sent"), started.json

    def done():
        return client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json["status"] == "sent"

    wait_until(done, timeout=60, message="delivery sent")
    shown = client.get(f"/internal/deliveries/{delivery_id}", headers=as_(APPROVER)).json
    assert shown["progress"]["sent"] == RESIDENTS and shown["progress"]["failed"] == 0
    assert [h["action"] for h in shown["history"]] == ["submit", "approve", "start", "finish"]
    [listed] = [d for d in client.get("/internal/deliveries", headers=as_(AUTHOR)).json["deliveries"]
                if d["id"] == delivery_id]
    assert (listed["recipients"], listed["sent"], listed["failed"]) == (RESIDENTS, RESIDENTS, 0)
    got = received(line_url, text)
    assert (got["recipients"], got["duplicates"], got["deliveries"]) == (RESIDENTS, 0, RESIDENTS)


def test_a_change_after_approval_goes_back_to_approval_and_cancelled_deliveries_never_send(stack):
    client, line_url, _emulator, _service, _clock = stack
    text = f"取り消すお知らせ {uuid.uuid4().hex[:6]}"
    delivery_id = draft(client, text)
    act(client, delivery_id, "submit", AUTHOR)
    act(client, delivery_id, "approve", APPROVER)
    current = client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json
    edited = client.put(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR),
                        json={"version": current["version"], "title": "直したお知らせ"})
    assert edited.json["status"] == "awaiting_approval" and not edited.json["approvals"]  # approve it again
    assert edited.json["reviewed"]["title"] != edited.json["title"]  # the approver sees what changed
    stale = client.put(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR),
                       json={"version": current["version"], "title": "古い画面から"})
    assert (stale.status_code, stale.json["code"]) == (409, "stale_version")
    assert act(client, delivery_id, "start", AUTHOR).json["code"] == "illegal_transition"
    assert act(client, delivery_id, "cancel", AUTHOR).json["status"] == "cancelled"
    assert act(client, delivery_id, "start", AUTHOR).status_code == 409
    assert received(line_url, text) is None


def test_bad_input_is_refused_with_a_reason_and_changes_nothing(stack):
    client, *_ = stack
    for body, code in (({"department": DEPARTMENT, "title": "", "messages": [], "target": {"kind": "everyone"}},
                        "invalid_title"),
                       ({"department": DEPARTMENT, "title": "x", "messages": [], "target": {"kind": "nobody"}},
                        "invalid_target"),
                       ({"department": DEPARTMENT, "title": "x", "messages": [], "target": {"kind": "everyone"},
                         "schedule": {"kind": "weekly", "weekdays": ["someday"], "time": "25:00"}},
                        "invalid_schedule"),
                       ({"department": "bousai", "title": "x", "messages": [], "target": {"kind": "everyone"}},
                        "forbidden")):
        refused = client.post("/internal/deliveries", json=body, headers=as_(AUTHOR))
        assert refused.status_code in (400, 403) and refused.json["code"] == code, refused.json
    delivery_id = draft(client, "x" * 5001)
    refused = act(client, delivery_id, "submit", AUTHOR)
    assert refused.status_code == 400 and "5000文字" in refused.json["problems"][0]


def test_a_recurring_delivery_fires_when_due_and_waits_for_the_next_occurrence(stack):
    from dispatcher.entrypoints.scheduler import run_due

    client, line_url, _emulator, service, clock = stack
    text = f"毎週のごみ出し案内 {uuid.uuid4().hex[:6]}"
    rule = {"kind": "weekly", "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "time": "07:30",
            "holidays": "send"}
    delivery_id = draft(client, text, schedule=rule)
    act(client, delivery_id, "submit", AUTHOR)
    act(client, delivery_id, "approve", APPROVER)
    scheduled = act(client, delivery_id, "schedule", AUTHOR).json
    assert scheduled["status"] == "scheduled" and scheduled["scheduleText"].startswith("毎週")
    due = datetime.fromisoformat(scheduled["sendAt"])
    assert run_due(service) == 0  # not yet
    clock.offset = due - datetime.now(UTC) + timedelta(seconds=1)
    try:
        assert run_due(service) == 1
        assert run_due(service) == 0  # started once

        def back_to_scheduled():
            shown = client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json
            return shown["status"] == "scheduled" and shown["runs"] and shown["runs"][0]["status"] == "sent"

        wait_until(back_to_scheduled, timeout=60, message="first occurrence sent")
        shown = client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json
        assert datetime.fromisoformat(shown["sendAt"]) - due == timedelta(days=1)
        assert received(line_url, text)["recipients"] == RESIDENTS
        assert act(client, delivery_id, "cancel", AUTHOR).json["status"] == "cancelled"  # the series ends
    finally:
        clock.offset = timedelta()


def test_a_paused_delivery_sends_nothing_more_until_resumed(stack):
    client, line_url, _emulator, service, _clock = stack
    text = f"一時停止するお知らせ {uuid.uuid4().hex[:6]}"
    delivery_id = draft(client, text)
    act(client, delivery_id, "submit", AUTHOR)
    act(client, delivery_id, "approve", APPROVER)
    # Pause the instant it starts: the send row says paused before the sender opens the first job.
    from dispatcher.domain import commands as c
    from dispatcher.domain.lifecycle import Actor

    author = Actor("author-1", frozenset({("author", DEPARTMENT)}))
    service.bus.handle(c.StartDelivery(uuid.UUID(delivery_id), author))
    paused = act(client, delivery_id, "pause", AUTHOR, comment="文面を確認します")
    assert paused.json["status"] == "paused", paused.json
    sent_while_paused = paused.json["progress"]["sent"]
    assert sent_while_paused < RESIDENTS
    resumed = act(client, delivery_id, "resume", AUTHOR)
    assert resumed.json["status"] in ("sending", "sent")

    def done():
        return client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json["status"] == "sent"

    wait_until(done, timeout=60, message="resumed delivery sent")
    got = received(line_url, text)
    assert (got["recipients"], got["duplicates"]) == (RESIDENTS, 0)


def test_statistics_come_from_the_delivery_s_own_unit_and_below_lines_floor_they_are_null(stack):
    client, _line_url, _emulator, _service, _clock = stack
    text = f"統計のお知らせ {uuid.uuid4().hex[:6]}"
    delivery_id = draft(client, text)
    act(client, delivery_id, "submit", AUTHOR)
    act(client, delivery_id, "approve", APPROVER)
    act(client, delivery_id, "start", AUTHOR)
    wait_until(lambda: client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json["status"]
               == "sent", timeout=60, message="sent")
    shown = client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json
    assert shown["aggregationUnit"] and len(shown["aggregationUnit"]) <= 30
    stats = client.get(f"/internal/deliveries/{delivery_id}/statistics", headers=as_(APPROVER)).json
    assert stats["available"] and stats["unit"] == shown["aggregationUnit"]
    overview = stats["overview"]
    assert overview["uniqueImpression"] >= 20  # 1,200 recipients: well above LINE's floor
    assert overview["uniqueClick"] is None  # no link in a text: below the floor is null, never a wrong 0


def test_an_uploaded_image_is_reencoded_sent_as_a_signed_url_that_line_can_fetch(stack):
    import io

    from PIL import Image

    client, line_url, _emulator, _service, _clock = stack
    picture = io.BytesIO()
    Image.new("RGB", (3000, 1500), (20, 120, 200)).save(picture, "PNG")
    headers = {**as_(AUTHOR), "Content-Type": "image/png"}
    uploaded = client.post(f"/internal/assets?department={DEPARTMENT}", data=picture.getvalue(), headers=headers)
    assert uploaded.status_code == 201 and (uploaded.json["width"], uploaded.json["height"]) == (2048, 1024)
    refused = client.post(f"/internal/assets?department={DEPARTMENT}", data=b"GIF89a not an image", headers=headers)
    assert refused.status_code == 400 and refused.json["code"] == "invalid_image"
    text = f"画像つきのお知らせ {uuid.uuid4().hex[:6]}"
    delivery_id = draft(client, text, messages=[{"type": "text", "text": text},
                                                {"type": "image", "assetId": uploaded.json["id"]}])
    act(client, delivery_id, "submit", AUTHOR)
    act(client, delivery_id, "approve", APPROVER)
    act(client, delivery_id, "start", AUTHOR)
    wait_until(lambda: received(line_url, text) is not None and received(line_url, text)["recipients"] == RESIDENTS,
               timeout=60, message="image delivery received")
    key = received(line_url, text)["contentKey"]
    detail = requests.get(f"{line_url}/_emulator/received/{key}", timeout=10).json()
    image = next(m for m in detail["messageObjects"] if m["type"] == "image")
    path = image["originalContentUrl"].split("/media/", 1)[1]
    fetched = client.get(f"/media/{path}")
    assert fetched.status_code == 200 and fetched.mimetype == "image/png"
    assert Image.open(io.BytesIO(fetched.data)).size == (2048, 1024)
    assert client.get(f"/media/{path[:-4]}0000").status_code == 404  # a URL we did not hand out opens nothing


def test_too_many_errors_pause_the_delivery_with_a_reason_in_plain_words(stack):
    client, line_url, _emulator, _service, _clock = stack
    text = f"障害中のお知らせ {uuid.uuid4().hex[:6]}"
    delivery_id = draft(client, text)
    act(client, delivery_id, "submit", AUTHOR)
    act(client, delivery_id, "approve", APPROVER)
    requests.post(f"{line_url}/_emulator/faults", json={"errorRate": 1.0, "operations": ["multicast"]},
                  timeout=10).raise_for_status()
    try:
        act(client, delivery_id, "start", AUTHOR)

        def paused():
            return client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json["status"] == "paused"

        wait_until(paused, timeout=120, message="paused for errors")
    finally:
        requests.post(f"{line_url}/_emulator/faults", json={}, timeout=10).raise_for_status()
    shown = client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json
    assert "エラー" in shown["pauseReason"] and shown["history"][-1]["actorId"] == "system"
    resumed = act(client, delivery_id, "resume", AUTHOR)
    assert resumed.json["status"] == "sending"
    wait_until(lambda: client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json["status"]
               in ("sent", "partly_failed"), timeout=120, message="resumed and finished")
    got = received(line_url, text)
    assert got["duplicates"] == 0 and got["recipients"] == RESIDENTS


def test_a_test_send_reaches_only_the_department_s_test_phones_and_is_not_a_delivery(stack):
    client, line_url, emulator, _service, _clock = stack
    phones = sorted(emulator.world.residents)[:2]
    admin = (((None, "admin"),), "admin-1")
    ids = []
    for n, (phone, department) in enumerate(zip(phones, (DEPARTMENT, "bousai"), strict=True)):
        added = client.post("/internal/test-recipients", headers=as_(admin),
                            json={"label": f"職員の端末{n}", "department": department, "lineUserId": phone})
        assert added.status_code == 201
        ids.append(added.json["id"])
    assert client.post("/internal/test-recipients", headers=as_(AUTHOR),
                       json={"label": "x", "department": DEPARTMENT, "lineUserId": phones[0]}).status_code == 403
    text = f"テスト配信 {uuid.uuid4().hex[:6]}"
    delivery_id = draft(client, text)
    tested = client.post(f"/internal/deliveries/{delivery_id}/test", json={"testRecipientIds": ids},
                         headers=as_(AUTHOR))
    assert tested.json == {"sent": 1}  # the other department's phone is not this delivery's to use
    got = received(line_url, text)
    assert got["recipients"] == 1
    shown = client.get(f"/internal/deliveries/{delivery_id}", headers=as_(AUTHOR)).json
    assert shown["status"] == "draft" and shown["runs"] == []  # not a delivery
    listed = client.get("/internal/test-recipients", headers=as_(AUTHOR)).json["testRecipients"]
    assert all("lineUserId" not in each for each in listed)


def test_templates_belong_to_their_department(stack):
    client, *_ = stack
    body = {"department": DEPARTMENT, "name": "健診のお知らせ", "messages": [{"type": "text", "text": "健診"}]}
    created = client.post("/internal/templates", json=body, headers=as_(AUTHOR))
    assert created.status_code == 201
    template_id = created.json["id"]
    listed = client.get(f"/internal/templates?department={DEPARTMENT}", headers=as_(AUTHOR)).json["templates"]
    assert [t["name"] for t in listed if t["id"] == template_id] == ["健診のお知らせ"]
    assert client.delete(f"/internal/templates/{template_id}", headers=as_(OTHER)).status_code == 404
    assert client.delete(f"/internal/templates/{template_id}", headers=as_(APPROVER)).status_code == 403
    assert client.delete(f"/internal/templates/{template_id}", headers=as_(AUTHOR)).status_code == 200
    assert all(t["id"] != template_id for t in client.get("/internal/templates", headers=as_(AUTHOR)).json["templates"])
