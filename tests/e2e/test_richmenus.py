"""Rich menus end to end on the real parts: PostgreSQL, RabbitMQ (a vhost of its own), segment-service (served
in this process: memberships and member lists), richmenu-service's API, its consumer (segment-service's events
through the outbox relay), its mass changes run as the worker runs them (on a controllable clock), and the LINE
emulator holding the menus, aliases, links and each resident's effective-menu history.

Invalid menus give clear errors and create nothing on LINE; a published tab set switches tabs on a resident's
richmenuswitch tap; a preference change relinks that resident within seconds; period menus start and end on
time; 災害時モード on and off (console, then broker) reaches every resident exactly once each way and is safe to
trigger twice; reconcile repairs a menu deleted behind our back."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cityline_common.amqp.publisher import ConfirmingPublisher
from cityline_common.amqp.topology import declare_with_url
from cityline_common.relay import OutboxRelay
from cityline_common.settings import load_settings
from PIL import Image

from testsupport import TEST_KEYS, internal_headers, wait_until
from testsupport.databases import migrated_database
from testsupport.emulator import running_emulator, serve
from testsupport.vhosts import own_vhost

pytestmark = pytest.mark.e2e

RESIDENTS = 30
DEPARTMENT = "kosodate"
AUTHOR = (((DEPARTMENT, "author"),), "author-1")
APPROVER = (((DEPARTMENT, "approver"),), "approver-1")
BOUSAI = ((("kikikanri", "approver"),), "approver-2")


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="module")
def stack():
    from admin_ui.config import HousekeepingSettings
    from admin_ui.entrypoints.audit_consumer import build_consumer as build_audit_consumer
    from cityline_common.db import make_engine
    from richmenu_service.bootstrap import bootstrap as richmenu_bootstrap
    from richmenu_service.config import Settings as RichmenuSettings
    from richmenu_service.entrypoints.consumer import build_consumer
    from richmenu_service.entrypoints.flask_app import create_app as richmenu_app
    from richmenu_service.manifest import MANIFEST as RICHMENU
    from segment_service.bootstrap import bootstrap as segment_bootstrap
    from segment_service.config import Settings as SegmentSettings
    from segment_service.domain.commands import PublishTaxonomy, SaveSegment
    from segment_service.entrypoints.flask_app import create_app as segment_app
    from segment_service.manifest import MANIFEST as SEGMENT

    with own_vhost("cityline_richmenu") as amqp_url, migrated_database("richmenus") as database_url, \
            running_emulator(residents=RESIDENTS, friends=RESIDENTS) as (line_url, emulator):
        declare_with_url(amqp_url)
        env = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS,
               "LINE_API_BASE_URL": line_url, "LINE_API_DATA_BASE_URL": line_url}
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
            parents = segment.bus.handle(SaveSegment("子育て中の方", DEPARTMENT, {"category": ["kosodate"]},
                                                     "author-1", None)).id
            with serve(segment_app(segment)) as segment_url:
                patch.setenv("SEGMENT_SERVICE_URL", segment_url)
                clock = Clock()
                service = richmenu_bootstrap(load_settings(RichmenuSettings), clock=clock)
                publisher = ConfirmingPublisher(amqp_url, name="test-relay")
                publisher.start()
                relays = [OutboxRelay(segment.engine, SEGMENT.plumbing, publisher, poll_interval=0.05),
                          OutboxRelay(service.engine, RICHMENU.plumbing, publisher, poll_interval=0.05)]
                admin_engine = make_engine(database_url, pool_size=2)
                consumers = [build_consumer(service),
                             build_audit_consumer(load_settings(HousekeepingSettings), admin_engine)]
                threads = [threading.Thread(target=relay.run_forever, daemon=True) for relay in relays]
                threads += [threading.Thread(target=consumer.run, daemon=True) for consumer in consumers]
                for thread in threads:
                    thread.start()
                for consumer in consumers:
                    wait_until(consumer.connected.is_set, timeout=15, message=f"{consumer.name} consuming")
                try:
                    yield Stack(richmenu_app(service).test_client(), line_url, emulator, service, segment, clock,
                                str(parents), amqp_url, admin_engine)
                finally:
                    for consumer in consumers:
                        consumer.stop()
                    for relay in relays:
                        relay.stop()
                    for thread in threads:
                        thread.join(timeout=10)
                    publisher.close()
                    service.engine.dispose()
                    segment.engine.dispose()
                    admin_engine.dispose()


class Stack:
    def __init__(self, client: Any, line_url: str, emulator: Any, service: Any, segment: Any, clock: Clock,
                 parents: str, amqp_url: str, admin_engine: Any) -> None:
        self.client, self.line_url, self.emulator, self.service = client, line_url, emulator, service
        self.segment, self.clock, self.parents, self.amqp_url = segment, clock, parents, amqp_url
        self.admin_engine = admin_engine

    def line(self, path: str) -> Any:
        return requests.get(f"{self.line_url}{path}", timeout=10).json()

    def apply(self) -> None:
        """What richmenu-worker does every quarter second: carry out pending mass changes."""
        from richmenu_service.domain.commands import ApplyRules

        while self.service.bus.handle(ApplyRules("test")) is not None:
            pass

    def history(self, user_id: str) -> list[str | None]:
        return [entry["richMenuId"] for entry in
                self.line(f"/_emulator/residents/{user_id}/rich-menu-history")["history"]]

    def users(self) -> list[str]:
        return sorted(self.emulator.world.residents)


def as_(who):
    roles, staff_id = who
    return internal_headers("richmenu", roles, staff_id=staff_id)


def png(width: int = 2500, height: int = 843, colour: tuple[int, int, int] = (11, 92, 173)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def tab(alias: str, switch_to: str | None = None) -> dict[str, Any]:
    areas: list[dict[str, Any]] = [{"bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                                    "action": {"type": "message", "text": f"{alias}のご案内", "label": "ご案内"}}]
    if switch_to:
        areas.append({"bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
                      "action": {"type": "richmenuswitch", "richMenuAliasId": switch_to, "data": f"tab={switch_to}",
                                 "label": "タブ切替"}})
    return {"aliasId": alias, "name": f"{alias} (e2e)", "chatBarText": "メニュー",
            "size": {"width": 2500, "height": 843}, "areas": areas}


def published(stack: Stack, title: str, *tabs: dict[str, Any]) -> dict[str, Any]:
    client = stack.client
    made = client.post("/internal/menus", json={"title": title, "department": DEPARTMENT, "tabs": list(tabs)},
                       headers=as_(AUTHOR))
    assert made.status_code == 201, made.json
    menu_id = made.json["id"]
    for number in range(1, len(tabs) + 1):
        uploaded = client.put(f"/internal/menus/{menu_id}/tabs/{number}/image", data=png(),
                              content_type="image/png", headers=as_(AUTHOR))
        assert uploaded.status_code == 200, uploaded.json
    done = client.post(f"/internal/menus/{menu_id}/publish", json={}, headers=as_(APPROVER))
    assert done.status_code == 200, done.json
    assert done.json["status"] == "published"
    return done.json


def rule(stack: Stack, kind: str, menu: dict[str, Any], **fields: Any) -> dict[str, Any]:
    made = stack.client.post("/internal/rules", json={"kind": kind, "menuId": menu["id"], **fields},
                             headers=as_(APPROVER))
    assert made.status_code == 201, made.json
    return made.json


def first_tab(menu: dict[str, Any]) -> str:
    return menu["publication"]["tabs"][0]["richMenuId"]


@pytest.fixture(scope="module")
def menus(stack: Stack) -> dict[str, dict[str, Any]]:
    found = {"main": published(stack, "くらしのメニュー", tab("main", "main-2"), tab("main-2", "main")),
             "kosodate": published(stack, "子育てメニュー", tab("kosodate")),
             "bousai": published(stack, "災害時メニュー", tab("bousai"))}
    rule(stack, "default", found["main"])
    rule(stack, "segment", found["kosodate"], segmentId=stack.parents)
    stack.apply()
    return found


def test_invalid_menus_get_clear_errors_and_create_nothing_on_line(stack: Stack) -> None:
    before = stack.line("/_emulator/stats")["richMenus"]
    bad = tab("bad")
    bad["areas"][0]["bounds"]["width"] = 2600
    bad["areas"][0]["action"] = {"type": "uri", "uri": "javascript:alert(1)"}
    refused = stack.client.post("/internal/menus", json={"title": "壊れたメニュー", "department": DEPARTMENT,
                                                          "tabs": [bad]}, headers=as_(AUTHOR))
    assert refused.status_code == 400 and refused.json["code"] == "invalid_menu"
    texts = [problem["text"] for problem in refused.json["problems"]]
    assert any("画像からはみ出しています" in text for text in texts), texts
    assert any("https://" in text for text in texts), texts
    draft = stack.client.post("/internal/menus", json={"title": "画像のないメニュー", "department": DEPARTMENT,
                                                        "tabs": [tab("noimage")]}, headers=as_(AUTHOR)).json
    unpublished = stack.client.post(f"/internal/menus/{draft['id']}/publish", json={}, headers=as_(APPROVER))
    assert unpublished.status_code == 409 and unpublished.json["code"] == "not_ready"
    wrong_size = stack.client.put(f"/internal/menus/{draft['id']}/tabs/1/image", data=png(1200, 810),
                                  content_type="image/png", headers=as_(AUTHOR))
    assert wrong_size.status_code == 400 and "大きさがメニューと違います" in wrong_size.json["problems"][0]["text"]
    outsider = stack.client.post(f"/internal/menus/{draft['id']}/publish", json={}, headers=as_(AUTHOR))
    assert outsider.status_code == 403
    assert stack.line("/_emulator/stats")["richMenus"] == before


def test_a_published_tab_set_switches_tabs_on_a_residents_tap(stack: Stack, menus: dict[str, Any]) -> None:
    resident = stack.users()[0]
    main, second = (t["richMenuId"] for t in menus["main"]["publication"]["tabs"])
    assert stack.line("/_emulator/stats")["defaultRichMenu"] == main
    tapped = requests.post(f"{stack.line_url}/_emulator/residents/{resident}/postback",
                           json={"data": "tab=main-2", "richMenuAliasId": "main-2"}, timeout=10)
    assert tapped.status_code == 200
    seen = stack.line(f"/_emulator/residents/{resident}")
    assert seen["displayedRichMenuId"] == second and seen["richMenuId"] == main


def test_a_preference_change_relinks_that_resident_within_seconds(stack: Stack, menus: dict[str, Any]) -> None:
    from segment_service.domain.commands import ChangePreferencesOfLineUser
    from segment_service.domain.preferences import Answers, ChangeSource

    resident = stack.users()[1]
    assert stack.line(f"/_emulator/residents/{resident}")["linkedRichMenuId"] is None
    stack.segment.bus.handle(ChangePreferencesOfLineUser(resident, Answers(frozenset({"kosodate"})),
                                                         ChangeSource.CHAT))
    wanted = first_tab(menus["kosodate"])
    wait_until(lambda: stack.line(f"/_emulator/residents/{resident}")["linkedRichMenuId"] == wanted, timeout=15,
               message="the resident's menu relinked")
    others = [user for user in stack.users() if user != resident]
    assert all(stack.line(f"/_emulator/residents/{user}")["linkedRichMenuId"] is None for user in others[:5])
    stack.segment.bus.handle(ChangePreferencesOfLineUser(resident, Answers(frozenset({"bousai"})),
                                                         ChangeSource.CHAT))
    wait_until(lambda: stack.line(f"/_emulator/residents/{resident}")["linkedRichMenuId"] is None, timeout=15,
               message="the resident left the segment: unlinked")


def test_a_period_menu_starts_and_ends_on_time(stack: Stack, menus: dict[str, Any]) -> None:
    summer = published(stack, "年末年始のメニュー", tab("nenmatsu"))
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    made = rule(stack, "period", summer, startsAt=start.isoformat(), endsAt=(start + timedelta(hours=2)).isoformat())
    stack.apply()
    assert stack.line("/_emulator/stats")["defaultRichMenu"] == first_tab(menus["main"])
    stack.clock.offset = start - datetime.now(UTC) - timedelta(seconds=5)
    stack.apply()
    assert stack.line("/_emulator/stats")["defaultRichMenu"] == first_tab(menus["main"])
    stack.clock.offset = start - datetime.now(UTC)
    stack.apply()
    assert stack.line("/_emulator/stats")["defaultRichMenu"] == first_tab(summer)
    assert stack.client.get("/internal/changes", headers=as_(AUTHOR)).json["changes"][0]["reason"] == "period_start"
    stack.clock.offset = start + timedelta(hours=2) - datetime.now(UTC)
    stack.apply()
    assert stack.line("/_emulator/stats")["defaultRichMenu"] == first_tab(menus["main"])
    assert stack.client.delete(f"/internal/rules/{made['id']}", headers=as_(APPROVER)).status_code == 200
    stack.clock.offset = timedelta()
    stack.apply()


def _switch(stack: Stack, who: Any, **body: Any) -> Any:
    return stack.client.post("/internal/disaster", json={"confirm": "災害時モード", **body}, headers=as_(who))


def test_disaster_mode_reaches_every_resident_exactly_once_each_way(stack: Stack, menus: dict[str, Any]) -> None:
    from segment_service.domain.commands import ChangePreferencesOfLineUser
    from segment_service.domain.preferences import Answers, ChangeSource

    users = stack.users()
    parents = users[2:12]
    for user in parents:
        stack.segment.bus.handle(ChangePreferencesOfLineUser(user, Answers(frozenset({"kosodate"})),
                                                             ChangeSource.CHAT))
    kosodate, main, bousai = first_tab(menus["kosodate"]), first_tab(menus["main"]), first_tab(menus["bousai"])
    wait_until(lambda: all(stack.line(f"/_emulator/residents/{u}")["linkedRichMenuId"] == kosodate for u in parents),
               timeout=20, message="parents linked to the 子育て menu")
    before = {user: stack.history(user) for user in users}
    unconfirmed = stack.client.post("/internal/disaster", json={"on": True, "menuId": menus["bousai"]["id"]},
                                    headers=as_(BOUSAI))
    assert unconfirmed.status_code == 400 and unconfirmed.json["code"] == "confirmation_required"
    assert _switch(stack, AUTHOR, on=True, menuId=menus["bousai"]["id"]).status_code == 403
    on = _switch(stack, BOUSAI, on=True, menuId=menus["bousai"]["id"])
    assert on.status_code == 200 and on.json["changed"] is True
    assert _switch(stack, BOUSAI, on=True).json["changed"] is False  # pressed twice: nothing more
    stack.apply()
    summary = stack.line("/_emulator/rich-menus/summary")
    assert summary["effective"] == {bousai: RESIDENTS}, summary
    for user in users:
        assert stack.history(user)[len(before[user]):] == [bousai], user
    assert stack.client.get("/internal/disaster", headers=as_(AUTHOR)).json["change"]["method"] == "batch"
    # 解除 from another city system, through the broker, twice
    from richmenu_service.contracts import SwitchDisasterMode

    publisher = ConfirmingPublisher(stack.amqp_url, name="test-bousai-system")
    publisher.start()
    try:
        for _ in range(2):
            message = SwitchDisasterMode(on=False, requested_by="bousai-system", reason="警報解除")
            publisher.publish(message.outbound(str(uuid.uuid4()))).result(timeout=10)
    finally:
        publisher.close()
    wait_until(lambda: not stack.client.get("/internal/disaster", headers=as_(AUTHOR)).json["on"], timeout=15,
               message="disaster mode off from the broker")
    stack.apply()
    middle = {user: stack.history(user) for user in users}
    for user in users:
        expected = kosodate if user in parents else main
        assert middle[user][len(before[user]) + 1:] == [expected], user
    changes = stack.client.get("/internal/changes", headers=as_(AUTHOR)).json["changes"]
    assert [c["reason"] for c in changes[:2]] == ["disaster_off", "disaster_on"]
    # the switch from the broker is in the 操作ログ (once: the second message changed nothing); the console's
    # own switch is recorded by the console with the staff member, not here
    from sqlalchemy import text

    def logged() -> list[Any]:
        with stack.admin_engine.connect() as connection:
            return connection.execute(text("SELECT actor, action, source FROM admin.audit_log "
                                           "WHERE action LIKE 'richmenu.disaster%' ORDER BY seq")).all()

    wait_until(lambda: len(logged()) == 1, timeout=15, message="the broker's switch in the 操作ログ")
    assert [tuple(row) for row in logged()] == [("system:bousai-system", "richmenu.disaster_off", "broker")]


def test_reconcile_repairs_a_menu_deleted_behind_our_back(stack: Stack, menus: dict[str, Any],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from richmenu_service.entrypoints.cli import main as cli

    kosodate = first_tab(menus["kosodate"])
    parent = next(u for u in stack.users() if stack.line(f"/_emulator/residents/{u}")["linkedRichMenuId"] == kosodate)
    token = TEST_KEYS["LINE_CHANNEL_ACCESS_TOKEN"]
    deleted = requests.delete(f"{stack.line_url}/v2/bot/richmenu/{kosodate}",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert deleted.status_code == 200
    assert stack.line(f"/_emulator/residents/{parent}")["linkedRichMenuId"] is None
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert cli(["reconcile"]) == 0
    report = json.loads(out.getvalue())
    assert [(r["aliasId"], r["why"]) for r in report["recreated"]] == [("kosodate", "deleted")]
    stack.apply()
    fresh = stack.client.get(f"/internal/menus/{menus['kosodate']['id']}", headers=as_(AUTHOR)).json
    assert first_tab(fresh) != kosodate
    assert stack.line(f"/_emulator/residents/{parent}")["linkedRichMenuId"] == first_tab(fresh)
    alias = requests.get(f"{stack.line_url}/v2/bot/richmenu/alias/kosodate",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert alias["richMenuId"] == first_tab(fresh)
    with contextlib.redirect_stdout(io.StringIO()) as again:
        assert cli(["reconcile"]) == 0
    assert json.loads(again.getvalue())["recreated"] == []
