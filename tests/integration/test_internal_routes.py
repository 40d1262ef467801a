"""Internal APIs deny by default, for every registered service as its entrypoint builds it.

Every route of every service is either anonymous by design (health, readiness, metrics, static
files, ingress-webhook's signature-checked webhook) or under ``/internal/``; every ``/internal/``
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

pytestmark = pytest.mark.integration

SERVICES = sorted(registered_services())
ANONYMOUS = {"/healthz", "/readyz", "/metrics"}
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


def sufficient_credentials(audience: str) -> list[dict[str, str]]:
    """Every kind of caller with every right: staff holding every role, and each service."""
    return [bearer(internal_signer().for_staff(audience, EVERY_ROLE)),
            *(bearer(internal_signer(name).as_service(audience)) for name in SERVICES)]


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_is_anonymous_by_design_or_internal_and_guarded(service_env, name):
    with built(name) as (app, service):
        client = app.test_client()
        anonymous = set(ANONYMOUS)
        if name == "ingress":
            anonymous.add(service.settings.webhook_path)  # LINE's webhook: its signature is checked instead
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
                                                       "/internal/taxonomy"}


@pytest.fixture
def segment(service_env):
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


def test_a_token_under_the_key_being_rotated_out_is_still_accepted(segment):
    old = InternalTokenSigner.from_spec(RETIRING_TEST_SIGNING_KEY, "admin")
    staff = StaffClaims("staff-old-key", (RoleGrant("総務課", "viewer"),))
    assert segment.get("/internal/residents/stats", headers=bearer(old.for_staff("segment", staff))).status_code == 200
