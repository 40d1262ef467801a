"""The LIFF page's API against the real database and the LINE emulator's LINE Login endpoints.

Every item of LINE's LINE Login security checklist (../shared/reference/security.md §3) that applies
to a LIFF backend has a test here; the table in docs/security.md names them:

* 9, 12 (tokens are verified, by the backend): forged, expired, wrong channel, garbage and missing
  tokens are refused; the answer comes from LINE's verify endpoint, not from decoding the token.
* 10 (access token: client_id is our channel, expires_in > 0): another channel's access token and an
  expired one are refused; ``expires_in: 0`` from LINE is refused too.
* 11 (the client sends raw tokens, not a user id): a user id in the body, the query or a header is
  ignored; the answers are stored for the user LINE names.
* Nonce (LINE: a nonce per login prevents replay): a nonce that does not match the token, and a
  nonce used before, are refused.
* Tokens in the query string are refused (they would land in logs and histories).
* 1-8 (authorization URL, state, callback, channel secret) belong to an authorization-code flow of
  our own, which there is none of: LIFF logs the resident in; the page redirects only to itself
  and segment-service holds no LINE Login channel secret.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from cityline_common.settings import load_settings
from segment_service.adapters.line_login import LineLoginRefused, LineLoginVerifier, VerifiedLineUser
from segment_service.adapters.orm import plumbing
from segment_service.bootstrap import SegmentService, bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import FollowResident, PublishTaxonomy
from sqlalchemy import select

from testsupport import ROOT
from testsupport.emulator import running_emulator

pytestmark = pytest.mark.integration

CHANNEL = "2000000001"
OTHER_CHANNEL = "2000000099"
API = "/liff/api/preferences"
TAXONOMY = yaml.safe_load(Path(ROOT / "deploy/demo/itami-taxonomy.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[str, Any]]:
    # A seed of its own: residents no other test of the session database follows.
    with running_emulator(residents=12, seed=uuid.uuid4().int % 1_000_000 + 1000) as running:
        yield running


@pytest.fixture
def liff(service_env, monkeypatch, emulator) -> Iterator[tuple[Any, SegmentService]]:
    url, _ = emulator
    monkeypatch.setenv("LINE_LOGIN_CHANNEL_ID", CHANNEL)
    monkeypatch.setenv("LIFF_ID", f"{CHANNEL}-TestLiff")
    monkeypatch.setenv("LINE_LOGIN_API_BASE_URL", url)
    from segment_service.entrypoints.flask_app import create_app

    service = bootstrap(load_settings(Settings))
    service.bus.handle(PublishTaxonomy(TAXONOMY))
    try:
        yield create_app(service).test_client(), service
    finally:
        service.engine.dispose()


def residents(emulator: tuple[str, Any]) -> list[str]:
    return sorted(emulator[1].world.residents)


def tokens(emulator: tuple[str, Any], user: str, **options: Any) -> dict[str, str]:
    body = {"userId": user, "channelId": CHANNEL, **options}
    answer: dict[str, str] = requests.post(f"{emulator[0]}/_emulator/login-tokens", json=body, timeout=5).json()
    return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def follow(service: SegmentService, user: str) -> None:
    service.bus.handle(FollowResident(user, 1_700_000_000_000))


ANSWERS = {"categories": ["kosodate", "event"], "district": "minami", "ageBand": "30s", "language": None,
           "children": ["2021-04", "2024-11"]}


def test_a_resident_reads_and_saves_with_an_id_token(liff, emulator):
    client, service = liff
    user = residents(emulator)[0]
    follow(service, user)
    token = tokens(emulator, user)["idToken"]
    first = client.get(API, headers=bearer(token))
    assert first.status_code == 200, first.json
    assert first.json["answers"] is None
    categories = {c["key"]: c for c in first.json["taxonomy"]["categories"]}
    assert categories["bousai"]["alwaysDelivered"] and not categories["kosodate"]["alwaysDelivered"]
    assert len(first.json["taxonomy"]["districts"]) == 17

    saved = client.put(API, json=ANSWERS, headers=bearer(token))
    assert saved.status_code == 200, saved.json
    assert saved.json["answers"]["categories"] == ["bousai", "event", "kosodate"]  # 防災 always
    assert client.get(API, headers=bearer(token)).json["answers"] == saved.json["answers"]
    assert saved.headers["Cache-Control"] == "no-store"
    assert "unsafe-inline" not in saved.headers["Content-Security-Policy"]


def test_an_access_token_works_too_and_the_user_comes_from_line(liff, emulator):
    client, service = liff
    user = residents(emulator)[1]
    follow(service, user)
    access = tokens(emulator, user)["accessToken"]
    assert client.put(API, json=ANSWERS, headers=bearer(access)).status_code == 200
    assert client.get(API, headers=bearer(access)).json["answers"]["district"] == "minami"


def test_the_user_id_is_never_taken_from_the_client(liff, emulator):
    """Checklist 11: whatever user id the client names, the answers are the token owner's."""
    client, service = liff
    owner, victim = residents(emulator)[2], residents(emulator)[3]
    for user in (owner, victim):
        follow(service, user)
    token = tokens(emulator, owner)["idToken"]
    response = client.put(f"{API}?userId={victim}", json={**ANSWERS, "userId": victim, "district": "inano"},
                          headers={**bearer(token), "X-Line-User-Id": victim})
    assert response.status_code == 200
    assert client.get(API, headers=bearer(token)).json["answers"]["district"] == "inano"
    assert client.get(API, headers=bearer(tokens(emulator, victim)["idToken"])).json["answers"] is None


def tamper(id_token: str, **claims: Any) -> str:
    """The token with its payload changed and the signature kept (what a forger can do)."""
    header, payload, signature = id_token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    changed = base64.urlsafe_b64encode(json.dumps({**decoded, **claims}).encode()).decode().rstrip("=")
    return f"{header}.{changed}.{signature}"


def test_forged_expired_wrong_channel_and_missing_tokens_are_refused(liff, emulator):
    """Checklist 9 and 12: the backend verifies every token it receives, with LINE."""
    client, service = liff
    user = residents(emulator)[4]
    follow(service, user)
    good = tokens(emulator, user)
    other_channel = requests.post(f"{emulator[0]}/_emulator/login-tokens", timeout=5,
                                  json={"userId": user, "channelId": OTHER_CHANNEL}).json()
    expired = tokens(emulator, user, expiresIn=-60)
    victim = residents(emulator)[5]
    refusals = {
        "no header": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage": bearer("not-a-token-at-all-but-long"),
        "forged signature": bearer(good["idToken"][:-4] + ("AAAA" if not good["idToken"].endswith("AAAA") else "BBBB")),
        "forged subject": bearer(tamper(good["idToken"], sub=victim)),
        "forged expiry": bearer(tamper(expired["idToken"], exp=4_000_000_000)),
        "unsigned (alg none)": bearer(good["idToken"].rsplit(".", 1)[0] + "."),
        "expired id token": bearer(expired["idToken"]),
        "expired access token": bearer(expired["accessToken"]),
        "another channel's id token": bearer(other_channel["idToken"]),
        "another channel's access token": bearer(other_channel["accessToken"]),
        "unknown access token": bearer("A" * 43),
    }
    for label, headers in refusals.items():
        for method in ("GET", "PUT"):
            response = client.open(API, method=method, headers=headers, json=ANSWERS)
            assert response.status_code == 401, f"{label} ({method}): {response.status_code} {response.json}"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.json["error"] == "Unauthorized"
            assert good["idToken"] not in response.get_data(as_text=True)
    assert client.get(API, headers=bearer(good["idToken"])).json["answers"] is None  # nothing was stored


def test_a_token_in_the_query_string_is_refused(liff, emulator):
    client, service = liff
    user = residents(emulator)[6]
    follow(service, user)
    good = tokens(emulator, user)
    for name, token in (("id_token", good["idToken"]), ("access_token", good["accessToken"]),
                        ("token", good["idToken"])):
        response = client.get(f"{API}?{name}={token}")
        assert response.status_code == 400 and response.json["reason"] == "token in the query string"
        # ... even beside a good header: the token has leaked into the URL, so say so.
        assert client.get(f"{API}?{name}={token}", headers=bearer(token)).status_code == 400


def test_a_nonce_must_match_the_token_and_is_accepted_once(liff, emulator):
    client, service = liff
    user = residents(emulator)[7]
    follow(service, user)
    nonce = f"n-{uuid.uuid4().hex}"
    token = tokens(emulator, user, nonce=nonce)["idToken"]
    assert client.get(API, headers={**bearer(token), "X-Line-Nonce": f"n-{uuid.uuid4().hex}"}).status_code == 401
    assert client.put(API, json=ANSWERS, headers={**bearer(token), "X-Line-Nonce": nonce}).status_code == 200
    replayed = client.put(API, json=ANSWERS, headers={**bearer(token), "X-Line-Nonce": nonce})
    assert replayed.status_code == 401 and replayed.json["reason"] == "replayed nonce"
    with service.engine.connect() as connection:  # shared by every replica: recorded in PostgreSQL, hashed
        recorded = connection.execute(select(plumbing.processed_messages.c.message_id)
                                      .where(plumbing.processed_messages.c.consumer == "liff.id-token-nonce")).scalars()
        assert nonce not in list(recorded)


def test_bad_answers_and_strangers_change_nothing(liff, emulator):
    client, service = liff
    user, stranger = residents(emulator)[8], residents(emulator)[9]
    follow(service, user)
    token = tokens(emulator, user)["idToken"]
    bad = client.put(API, json={**ANSWERS, "district": "atlantis"}, headers=bearer(token))
    assert bad.status_code == 400 and "atlantis" in bad.json["reason"]
    assert client.put(API, data="not json", headers=bearer(token)).status_code == 400
    assert client.put(API, data=b"{" * 20_000, headers={**bearer(token), "Content-Type": "application/json"}
                      ).status_code == 413
    assert client.get(API, headers=bearer(token)).json["answers"] is None
    # Not a friend (never followed): nothing to save for them.
    assert client.put(API, json=ANSWERS, headers=bearer(tokens(emulator, stranger)["idToken"])).status_code == 404


def test_the_page_is_served_with_a_strict_policy(liff):
    client, _ = liff
    page = client.get("/liff/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'lang="ja"' in html and f'data-liff-id="{CHANNEL}-TestLiff"' in html and "伊丹市" in html
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP allows none
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["X-Frame-Options"] == "DENY"
    for asset in ("liff.js", "liff.css"):
        assert client.get(f"/liff/static/{asset}").status_code == 200


class FakeLine:
    """LINE's answers as a requests session would return them: for the checks LINE's own answer
    must pass even when LINE says 200 (an answer for another channel, or a spent access token)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def request(self, method: str, url: str, **_: Any) -> Any:
        body = self.answers[url.rsplit("/", 2)[-1] if "profile" in url else method]
        response = requests.Response()
        response.status_code = 200 if body is not None else 400  # None: LINE refuses it
        response._content = json.dumps(body or {"error": "invalid_request"}).encode()
        return response


def test_line_answers_are_checked_again():
    """Checklist 10: client_id is our channel and expires_in is positive; iss, aud, exp of ID tokens."""
    user = "U" + "a" * 32
    profile = {"userId": user, "displayName": "x"}
    now = 1_800_000_000

    def verifier(answers: dict[str, Any]) -> LineLoginVerifier:
        return LineLoginVerifier(CHANNEL, lambda _: True, session=FakeLine({**answers, "profile": profile}),  # type: ignore[arg-type]
                                 clock=lambda: now)

    access = "A" * 43
    assert verifier({"GET": {"client_id": CHANNEL, "expires_in": 100}}).verify(access).user_id == user
    for answer, reason in (({"client_id": OTHER_CHANNEL, "expires_in": 100}, "wrong channel"),
                           ({"client_id": CHANNEL, "expires_in": 0}, "expired")):
        with pytest.raises(LineLoginRefused) as refused:
            verifier({"GET": answer}).verify(access)
        assert refused.value.reason == reason
    id_token = "a" * 20 + "." + "b" * 20 + "." + "c" * 20
    # LINE Login v2.1 access tokens are JWT-shaped: refused as an ID token, it is verified as an access token.
    jwt_shaped_access = {"POST": None, "GET": {"client_id": CHANNEL, "expires_in": 100}}
    assert verifier(jwt_shaped_access).verify(id_token) == VerifiedLineUser(user, "access_token")
    with pytest.raises(LineLoginRefused):  # ... but not when a nonce says it is an ID token
        verifier(jwt_shaped_access).verify(id_token, nonce="n-12345678")
    claims = {"iss": "https://access.line.me", "aud": CHANNEL, "exp": now + 60, "sub": user}
    assert verifier({"POST": claims}).verify(id_token).user_id == user
    for changed, reason in (({"iss": "https://evil.example"}, "wrong issuer"),
                            ({"aud": OTHER_CHANNEL}, "wrong channel"),
                            ({"exp": now - 60}, "expired"), ({"sub": "me"}, "no user id")):
        with pytest.raises(LineLoginRefused) as refused:
            verifier({"POST": {**claims, **changed}}).verify(id_token)
        assert refused.value.reason == reason


def test_without_a_login_channel_there_is_no_page(service_env, monkeypatch):
    monkeypatch.delenv("LINE_LOGIN_CHANNEL_ID", raising=False)
    from segment_service.entrypoints.flask_app import create_app

    service = bootstrap(load_settings(Settings))
    try:
        client = create_app(service).test_client()
        assert client.get("/liff/").status_code == 404
        assert client.get(API).status_code == 404
    finally:
        service.engine.dispose()


def test_the_mock_is_refused_with_lines_own_url(monkeypatch):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="emulator only"):
        Settings(line_login_api_base_url="https://api.line.me", liff_mock=True,  # type: ignore[call-arg]
                 field_encryption_keys="x", blind_index_key="y")
