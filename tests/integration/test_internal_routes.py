"""Internal APIs deny by default, for every registered service as its entrypoint builds it.

Every route of every service is either anonymous by design (health, readiness, metrics, static
files, ingress-webhook's signature-checked webhook, segment-service's LIFF page, whose API takes a
LINE token instead) or under ``/internal/``; every ``/internal/``
route answers 401 to a request without a token, with a forged one, an expired one or one for another
service, and something else to a valid token of sufficient rights. admin-ui's own pages are guarded
by its staff sign-in, not here; an ``/internal/`` route it grows is checked like the others.
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cityline_common.internal_auth import (
    InternalTokenSigner,
    RoleGrant,
    StaffClaims,
    is_internal_path,
    parse_signing_key,
)
from cityline_common.manifest import registered_services
from cityline_common.settings import load_settings
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from werkzeug.routing import FloatConverter, IntegerConverter, Rule, UUIDConverter

from testsupport import RETIRING_TEST_SIGNING_KEY, TEST_KEYS, internal_headers, internal_signer
from testsupport.databases import migrated_database

pytestmark = pytest.mark.integration

SERVICES = sorted(registered_services())
ANONYMOUS = {"/healthz", "/readyz", "/metrics"}
# segment-service's residents' page: anonymous to the internal guard; its API needs a LINE token.
LIFF_PAGE = {"/liff/", "/liff/static/<path:filename>"}
LIFF_API = {"/liff/api/preferences"}
EVERY_ROLE = StaffClaims("staff-all", (RoleGrant(None, "admin"), RoleGrant("総務課", "approver"),
                                       RoleGrant("総務課", "author"), RoleGrant("総務課", "viewer")))


@contextmanager
def built(name: str) -> Iterator[tuple[Flask, Any]]:
    """The service's app exactly as its entrypoint builds it: create_app(bootstrap(settings))."""
    [web] = [process for process in registered_services()[name].processes if process.kind == "web"]
    assert web.app is not None
    module = web.app.split(":", 1)[0]
    package = module.split(".", 1)[0]
    settings_cls = importlib.import_module(f"{package}.config").Settings
    service = importlib.import_module(f"{package}.bootstrap").bootstrap(load_settings(settings_cls))
    try:
        yield importlib.import_module(module).create_app(service), service
    finally:
        close = getattr(service, "close", None)
        if callable(close):
            close()
        else:
            service.engine.dispose()


def url_for(app: Flask, rule: Rule, method: str) -> str:
    samples = {IntegerConverter: 1, FloatConverter: 1.0, UUIDConverter: uuid.UUID(int=1)}
    values = {arg: samples.get(type(rule._converters[arg]), "x") for arg in rule.arguments}
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused_credentials(audience: str) -> dict[str, dict[str, str]]:
    signer = internal_signer()
    key_id, key = parse_signing_key(TEST_KEYS["INTERNAL_TOKEN_SIGNING_KEY"])
    expired = InternalTokenSigner(key_id, key, "tests", clock=lambda: time.time() - 3600)
    other = next((name for name in SERVICES if name != audience), "elsewhere")
    return {
        "no token": {},
        "not a bearer token": {"Authorization": "Basic dGVzdDp0ZXN0"},
        "garbage": bearer("not-a-token"),
        "forged": bearer(InternalTokenSigner(key_id, Ed25519PrivateKey.generate(), "tests")
                         .for_staff(audience, EVERY_ROLE)),
        "unknown key": bearer(InternalTokenSigner("test-it9", Ed25519PrivateKey.generate(), "tests")
                              .for_staff(audience, EVERY_ROLE)),
        "expired": bearer(expired.for_staff(audience, EVERY_ROLE)),
        "another audience": bearer(signer.for_staff(other, EVERY_ROLE)),
    }


MEDIA = "/media/<uuid:asset_id>/<variant>/<signature>"


def sufficient_credentials(audience: str) -> list[dict[str, str]]:
    """Every kind of caller with every right: staff holding every role, and each service."""
    return [bearer(internal_signer().for_staff(audience, EVERY_ROLE)),
            *(bearer(internal_signer(name).as_service(audience)) for name in SERVICES)]


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_is_anonymous_by_design_or_internal_and_guarded(service_env, monkeypatch, name):
    # The LIFF page is served only with a LINE Login channel; LINE itself is never asked here.
    monkeypatch.setenv("LINE_LOGIN_CHANNEL_ID", "2000000001")
    monkeypatch.setenv("LINE_LOGIN_API_BASE_URL", "http://127.0.0.1:9")
    with built(name) as (app, service):
        client = app.test_client()
        anonymous = set(ANONYMOUS)
        if name == "ingress":
            anonymous.add(service.settings.webhook_path)  # LINE's webhook: its signature is checked instead
        if name == "dispatcher":
            # LINE fetches delivered images without credentials; the path's HMAC is the capability.
            anonymous.add(MEDIA)
            forged = f"/media/{uuid.uuid4()}/original/{'0' * 32}"
            assert client.get(forged).status_code == 404
        if name == "segment":
            anonymous |= LIFF_PAGE | LIFF_API
            for path in LIFF_API:  # no LINE token, no answer
                for method in ("GET", "PUT"):
                    response = client.open(path, method=method, json={})
                    assert response.status_code == 401, f"{method} {path}"
                    assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/liff")} == (
                LIFF_PAGE | LIFF_API)
        internal = []
        for rule in app.url_map.iter_rules():
            if is_internal_path(rule.rule):
                internal.append(rule)
            elif name != "admin":  # admin-ui's own pages are behind its staff sign-in
                assert rule.endpoint == "static" or rule.rule in anonymous, (
                    f"{name}: {rule.rule} is neither anonymous by design nor under /internal/")
        for path in ANONYMOUS:
            assert client.get(path).status_code != 401, path

        for rule in internal:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                url = url_for(app, rule, method)
                for label, headers in refused_credentials(name).items():
                    response = client.open(url, method=method, headers=headers, json={})
                    assert response.status_code == 401, f"{name}: {method} {url} with {label}"
                    assert response.headers["WWW-Authenticate"].startswith("Bearer")
                    assert response.json["error"] == "Unauthorized"
                answers = [client.open(url, method=method, headers=headers, json={}).status_code
                           for headers in sufficient_credentials(name)]
                assert 401 not in answers, f"{name}: {method} {url} refused a valid token"
                assert any(code != 403 for code in answers), f"{name}: {method} {url} lets nobody in"

        # Paths no route matches are refused alike: nothing to learn about which routes exist.
        for label, headers in refused_credentials(name).items():
            assert client.get("/internal/no-such-route", headers=headers).status_code == 401, label
        if name == "segment":
            assert {rule.rule for rule in internal} == {"/internal/residents/stats", "/internal/residents/summary",
                                                       "/internal/taxonomy", "/internal/account-texts",
                                                       "/internal/account-texts/<key>",
                                                       # 受信設定 and segments (segments_api.py)
                                                       "/internal/segments", "/internal/segments/count",
                                                       "/internal/segments/<uuid:segment_id>",
                                                       "/internal/taxonomy/preview",
                                                       "/internal/deliveries/<delivery_id>/recipients",
                                                       # richmenu-service's memberships and member lists
                                                       "/internal/residents/<resident_id>/memberships",
                                                       "/internal/member-lists/<key>",
                                                       # 受信設定の項目の版, 友だち分析 (flask_app.py)
                                                       "/internal/taxonomy/versions",
                                                       "/internal/residents/choices"}


@pytest.fixture
def segment(service_env, monkeypatch):
    """segment-service over a database of its own: publishing a taxonomy is refused while stored
    answers hold a key it drops, and other tests of the session store answers."""
    with migrated_database("routes", ("segment",)) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        with built("segment") as (app, _service):
            yield app.test_client()


def test_a_viewer_reads_segment_stats_but_only_an_admin_publishes_the_taxonomy(segment):
    document = {"municipality": {"code": "282073", "name": "伊丹市"},
                "categories": [{"key": f"c{uuid.uuid4().hex[:6]}", "label": "防災"}]}
    viewer = internal_headers("segment", (("総務課", "viewer"),))
    assert segment.get("/internal/residents/stats", headers=viewer).status_code == 200
    denied = segment.post("/internal/taxonomy", json=document, headers=viewer)
    assert denied.status_code == 403
    assert denied.json == {"error": "Forbidden", "reason": "needs the staff role 'admin' (システム管理者)"}
    approver = internal_headers("segment", (("防災危機管理課", "approver"),))
    assert segment.post("/internal/taxonomy", json=document, headers=approver).status_code == 403
    service = internal_headers("segment", service="dispatcher")
    assert segment.get("/internal/residents/stats", headers=service).status_code == 200
    assert segment.post("/internal/taxonomy", json=document, headers=service).status_code == 403

    admin = internal_headers("segment", ((None, "admin"),))
    assert segment.post("/internal/taxonomy", json=document, headers=admin).status_code == 201
    assert segment.get("/internal/taxonomy", headers=viewer).json["taxonomy"]["categories"] == document["categories"]


def test_only_an_admin_changes_the_greeting_and_a_bad_text_changes_nothing(segment):
    viewer = internal_headers("segment", (("総務課", "viewer"),))
    admin = internal_headers("segment", ((None, "admin"),))
    text = {"text": f"伊丹市です。友だち追加ありがとうございます。{uuid.uuid4().hex[:6]}"}
    for refused in (viewer, internal_headers("segment", (("総務課", "approver"),)),
                    internal_headers("segment", service="dispatcher")):
        assert segment.put("/internal/account-texts/greeting", json=text, headers=refused).status_code == 403
    changed = segment.put("/internal/account-texts/greeting", json=text, headers=admin)
    assert changed.status_code == 200 and changed.json["text"] == text["text"]
    for key, body, reason in (("greeting", {"text": ""}, "must not be empty"),
                              ("greeting", {"text": "x" * 1001}, "at most 1000"),
                              ("greeting", {"text": 5}, "must be a string"),
                              ("greeting", {"text": "a", "more": 1}, "body must be"),
                              ("farewell", {"text": "さようなら"}, "unknown text")):
        refused = segment.put(f"/internal/account-texts/{key}", json=body, headers=admin)
        assert refused.status_code == 400 and reason in refused.json["reason"], (key, body)
    listed = {each["key"]: each for each in segment.get("/internal/account-texts", headers=viewer).json["texts"]}
    assert listed["greeting"]["text"] == text["text"] and not listed["greeting"]["default"]
    assert listed["greeting_refollow"]["default"] and "以前の受信設定" in listed["greeting_refollow"]["text"]


def test_a_token_under_the_key_being_rotated_out_is_still_accepted(segment):
    old = InternalTokenSigner.from_spec(RETIRING_TEST_SIGNING_KEY, "admin")
    staff = StaffClaims("staff-old-key", (RoleGrant("総務課", "viewer"),))
    assert segment.get("/internal/residents/stats", headers=bearer(old.for_staff("segment", staff))).status_code == 200


def test_segments_follow_department_rules_and_only_the_dispatcher_resolves(segment):
    """Staff draft and save segments only in their departments; recipient lists are the dispatcher's."""
    document = {"municipality": {"code": "282073", "name": "伊丹市"},
                "categories": [{"key": "bousai", "label": "防災", "always_delivered": True},
                               {"key": "kosodate", "label": "子育て"}],
                "districts": [{"key": "minami", "label": "南"}]}
    admin = internal_headers("segment", ((None, "admin"),))
    assert segment.post("/internal/taxonomy", json=document, headers=admin).status_code in {200, 201}
    body = {"name": "南の子育て", "department": "子育て支援課",
            "expression": {"and": [{"category": ["kosodate"]}, {"district": ["minami"]}]}}
    author = internal_headers("segment", (("子育て支援課", "author"),))
    elsewhere = internal_headers("segment", (("広報課", "author"),))
    viewer = internal_headers("segment", (("子育て支援課", "viewer"),))
    dispatcher = internal_headers("segment", service="dispatcher")

    count = segment.post("/internal/segments/count", json={"expression": body["expression"]}, headers=author)
    assert count.status_code == 200 and set(count.json) == {"matching", "unanswered", "recipients",
                                                            "unansweredIncluded"}
    assert segment.post("/internal/segments/count", json=body, headers=viewer).status_code == 403
    bad = segment.post("/internal/segments/count", json={"expression": {"district": ["atlantis"]}}, headers=author)
    assert bad.status_code == 400 and "atlantis" in bad.json["reason"]

    assert segment.post("/internal/segments", json=body, headers=elsewhere).status_code == 403
    assert segment.post("/internal/segments", json=body, headers=viewer).status_code == 403
    created = segment.post("/internal/segments", json=body, headers=author)
    assert created.status_code == 201
    path = f"/internal/segments/{created.json['id']}"
    assert segment.get(path, headers=viewer).json["name"] == "南の子育て"
    assert segment.get(path, headers=elsewhere).status_code == 404
    assert created.json["id"] not in str(segment.get("/internal/segments", headers=elsewhere).json)
    assert segment.put(path, json={**body, "name": "改名"}, headers=elsewhere).status_code == 403
    assert segment.put(path, json={**body, "name": "改名"}, headers=author).status_code == 200
    assert segment.delete(path, headers=elsewhere).status_code == 403

    delivery = f"/internal/deliveries/d-{uuid.uuid4().hex[:8]}/recipients"
    assert segment.post(delivery, json={"segmentId": created.json["id"]}, headers=author).status_code == 403
    assert segment.post(delivery, json={"segmentId": created.json["id"]},
                        headers=internal_headers("segment", service="richmenu")).status_code == 403
    frozen = segment.post(delivery, json={"segmentId": created.json["id"]}, headers=dispatcher)
    assert frozen.status_code == 201
    assert segment.post(delivery, json={"segmentId": created.json["id"]}, headers=dispatcher).status_code == 200
    page = segment.get(f"{delivery}?after=0&limit=500", headers=dispatcher)
    assert page.status_code == 200 and page.json["members"] == frozen.json["members"]
    assert all(set(r) == {"position", "residentId"} for r in page.json["recipients"])  # opaque by default
    opened = segment.get(f"{delivery}?after=0&limit=500&with=lineUserId", headers=dispatcher)
    assert opened.status_code == 200
    assert [r["residentId"] for r in opened.json["recipients"]] == [r["residentId"] for r in page.json["recipients"]]
    assert all(r["lineUserId"] for r in opened.json["recipients"])
    assert segment.get(f"{delivery}?after=0&with=displayName", headers=dispatcher).status_code == 400
    assert segment.get(f"{delivery}?after=0&with=lineUserId", headers=author).status_code == 403
    assert segment.get(f"{delivery}?after=0&limit=500", headers=author).status_code == 403
    assert segment.delete(path, headers=author).status_code == 200
