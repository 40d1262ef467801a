"""What richmenu-service asks segment-service, against the real PostgreSQL: one resident's segment
memberships now (unanswered and unfollowed residents are no members), and member lists frozen and
paged exactly like a delivery's recipients. Only the service ``richmenu`` may ask."""

import os
import uuid

import pytest
from cityline_common.settings import load_settings
from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import (
    ChangePreferencesOfLineUser,
    FollowResident,
    PublishTaxonomy,
    UnfollowResident,
)
from segment_service.domain.preferences import Answers, ChangeSource
from segment_service.entrypoints.flask_app import create_app

from testsupport import TEST_KEYS, internal_headers
from testsupport.databases import migrated_database

pytestmark = pytest.mark.integration

DOCUMENT = {
    "municipality": {"code": "282073", "name": "伊丹市"},
    "categories": [{"key": "bousai", "label": "防災", "always_delivered": True},
                   {"key": "kosodate", "label": "子育て"}, {"key": "event", "label": "イベント"}],
    "districts": [{"key": "minami", "label": "南"}, {"key": "kita", "label": "北"}],
}
def richmenu() -> dict[str, str]:
    """A fresh token each time: a module-level one expires (5 minutes) in a long run."""
    return internal_headers("segment", service="richmenu")

def admin() -> dict[str, str]:
    """A fresh token each time: a module-level one expires (5 minutes) in a long run."""
    return internal_headers("segment", ((None, "admin"),))



def line_id(n):
    return "U" + f"{n:032x}"


@pytest.fixture(scope="module")
def world(amqp_url):
    with migrated_database("richmenu_api", ("segment",)) as url:
        previous = dict(os.environ)
        os.environ.update({"DATABASE_URL": url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS})
        try:
            service = bootstrap(load_settings(Settings))
        finally:
            os.environ.clear()
            os.environ.update(previous)
        try:
            yield _populate(service)
        finally:
            service.engine.dispose()


def _populate(service):
    bus = service.bus
    bus.handle(PublishTaxonomy(DOCUMENT))
    people = {}
    for n, name in enumerate(("kosodate", "event", "unanswered", "unfollowed", "kita")):
        bus.handle(FollowResident(line_id(n + 1), 1000 + n))
        people[name] = str(bus.query(lambda uow, n=n: uow.residents.get_by_line_user_id(line_id(n + 1)).id))
    answers = {"kosodate": Answers(frozenset({"kosodate"}), "minami"), "event": Answers(frozenset({"event"})),
               "unfollowed": Answers(frozenset({"kosodate"}), "minami"),
               "kita": Answers(frozenset({"kosodate"}), "kita")}
    for name, given in answers.items():
        bus.handle(ChangePreferencesOfLineUser(line_id(list(people).index(name) + 1), given, ChangeSource.CHAT))
    bus.handle(UnfollowResident(line_id(list(people).index("unfollowed") + 1), 9000))
    client = create_app(service).test_client()
    segments = {}
    for name, expression in (("kosodate_minami", {"and": [{"category": ["kosodate"]}, {"district": ["minami"]}]}),
                             ("event", {"category": ["event"]}), ("bousai", {"category": ["bousai"]})):
        saved = client.post("/internal/segments", headers=admin(),
                            json={"name": name, "department": "総務課", "expression": expression})
        assert saved.status_code == 201, saved.json
        segments[name] = saved.json["id"]
    return client, people, segments, service


def memberships(client, resident, segment_ids, headers=None):
    return client.post(f"/internal/residents/{resident}/memberships", json={"segmentIds": segment_ids},
                       headers=headers or richmenu())


def test_a_residents_memberships_are_evaluated_now_without_the_unanswered(world):
    client, people, segments, service = world
    asked = [segments["kosodate_minami"], segments["event"], segments["bousai"]]
    unknown = str(uuid.uuid4())

    member = memberships(client, people["kosodate"], [*asked, unknown])
    assert member.status_code == 200
    assert member.json == {"residentId": people["kosodate"], "following": True, "lineUserId": line_id(1),
                           "memberOf": [segments["kosodate_minami"], segments["bousai"]],  # bousai: always chosen
                           "unknownSegments": [unknown]}
    assert memberships(client, people["event"], asked).json["memberOf"] == [segments["event"], segments["bousai"]]
    assert memberships(client, people["kita"], asked).json["memberOf"] == [segments["bousai"]]  # not a member
    # Never answered: no segment menu, not even for a segment whose delivery would include them.
    unanswered = memberships(client, people["unanswered"], asked).json
    assert unanswered["memberOf"] == [] and unanswered["following"] and unanswered["lineUserId"] == line_id(3)
    # Blocked: answers kept, but no member, and the LINE user id stays closed.
    blocked = memberships(client, people["unfollowed"], asked).json
    assert (blocked["following"], blocked["lineUserId"], blocked["memberOf"]) == (False, None, [])
    nothing = memberships(client, people["kosodate"], [])
    assert nothing.status_code == 200 and nothing.json["memberOf"] == [] and nothing.json["unknownSegments"] == []

    # Answers change: the next question sees it at once (evaluated now, not from a stored list).
    service.bus.handle(ChangePreferencesOfLineUser(line_id(5), Answers(frozenset({"kosodate"}), "minami"),
                                                   ChangeSource.LIFF))
    assert memberships(client, people["kita"], asked).json["memberOf"] == [segments["kosodate_minami"],
                                                                           segments["bousai"]]


def test_bad_questions_are_refused_and_only_richmenu_may_ask(world):
    client, people, segments, _service = world
    assert memberships(client, str(uuid.uuid4()), [segments["event"]]).status_code == 404
    for resident, body in ((people["event"], {"segmentIds": ["not-a-uuid"]}),
                           (people["event"], {"segmentIds": [str(uuid.uuid4())] * 101}),
                           (people["event"], {"segmentIds": segments["event"]}),
                           (people["event"], {}),
                           ("not-a-uuid", {"segmentIds": []})):
        refused = client.post(f"/internal/residents/{resident}/memberships", json=body, headers=richmenu())
        assert refused.status_code == 400 and refused.json["reason"], body
    for other in (internal_headers("segment", service="dispatcher"), admin()):
        assert memberships(client, people["event"], [segments["event"]], headers=other).status_code == 403
        assert client.post("/internal/member-lists/k", json={"segmentId": segments["event"]},
                           headers=other).status_code == 403
        assert client.get("/internal/member-lists/k", headers=other).status_code == 403


def test_a_member_list_is_frozen_once_and_paged_with_line_user_ids(world):
    client, people, segments, _service = world
    key = f"bousai-{uuid.uuid4().hex[:8]}"
    frozen = client.post(f"/internal/member-lists/{key}", json={"segmentId": segments["bousai"]}, headers=richmenu())
    assert frozen.status_code == 201 and frozen.json == {"key": key, "members": 3}  # not the unanswered
    again = client.post(f"/internal/member-lists/{key}", json={"segmentId": segments["bousai"]}, headers=richmenu())
    assert again.status_code == 200 and again.json == {"key": key, "members": 3}

    seen, after = [], 0
    while after is not None:
        page = client.get(f"/internal/member-lists/{key}?after={after}&limit=2&with=lineUserId", headers=richmenu())
        assert page.status_code == 200 and page.json["key"] == key and "deliveryId" not in page.json
        assert page.json["members"] == 3 and page.json["includeUnanswered"] is False
        seen.extend(page.json["recipients"])
        after = page.json["next"]
    assert [m["position"] for m in seen] == [1, 2, 3]
    assert {m["residentId"] for m in seen} == {people["kosodate"], people["event"], people["kita"]}
    assert {m["lineUserId"] for m in seen} == {line_id(1), line_id(2), line_id(5)}
    closed = client.get(f"/internal/member-lists/{key}?limit=5000", headers=richmenu()).json["recipients"]
    assert all(set(m) == {"position", "residentId"} for m in closed)

    # The member list is no delivery: the dispatcher neither reads nor makes one under its name.
    dispatcher = internal_headers("segment", service="dispatcher")
    assert client.get(f"/internal/deliveries/richmenu:{key}/recipients", headers=dispatcher).status_code == 404
    assert client.post(f"/internal/deliveries/richmenu:{key}/recipients", json={"segmentId": segments["bousai"]},
                       headers=dispatcher).status_code == 400

    assert client.get(f"/internal/member-lists/never-{key}", headers=richmenu()).status_code == 404
    assert client.post(f"/internal/member-lists/u-{key}", json={"segmentId": str(uuid.uuid4())},
                       headers=richmenu()).status_code == 404
    for bad_key, body in (("x" * 41, {"segmentId": segments["bousai"]}), ("a.b", {"segmentId": segments["bousai"]}),
                          (f"k-{key}", {"segmentId": "nope"}), (f"k-{key}", {})):
        refused = client.post(f"/internal/member-lists/{bad_key}", json=body, headers=richmenu())
        assert refused.status_code == 400 and refused.json["reason"], (bad_key, body)
    assert client.get(f"/internal/member-lists/{'x' * 41}", headers=richmenu()).status_code == 400
    assert client.get(f"/internal/member-lists/{key}?limit=0", headers=richmenu()).status_code == 400
