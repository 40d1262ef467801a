"""Internal API tokens: only a short-lived Ed25519 token signed by a key of the ring, for this very
service, gets through; everything else is refused with a short reason."""

import base64
import hashlib
import hmac
import io
import json
import time

import jwt
import pytest
from cityline_common.internal_auth import (
    ANY_STAFF,
    SERVICE_IDENTITY,
    InternalCaller,
    InternalKeyError,
    InternalTokenSigner,
    InternalTokenVerifier,
    InvalidInternalToken,
    RoleGrant,
    StaffClaims,
    current_caller,
    generate_key_pair,
    main,
    parse_signing_key,
    parse_verify_keys,
    public_key_text,
    requires,
    requires_role,
    services,
)
from cityline_common.metrics import INTERNAL_AUTH_REFUSALS
from cityline_common.settings import ConfigError, InternalAuthSettings, load_settings
from cityline_common.web import create_base_app
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Response, jsonify

SIGNING, VERIFYING = generate_key_pair("k1")
OLD_SIGNING, OLD_VERIFYING = generate_key_pair("k0")
STAFF = StaffClaims("staff-42", (RoleGrant("防災危機管理課", "approver"), RoleGrant("総務課", "viewer")))
ADMIN = StaffClaims("staff-1", (RoleGrant(None, "admin"),))


def signer(spec: str = SIGNING, issuer: str = "admin", clock=time.time) -> InternalTokenSigner:
    key_id, key = parse_signing_key(spec)
    return InternalTokenSigner(key_id, key, issuer, clock=clock)


def verifier(ring: str = VERIFYING, audience: str = "segment") -> InternalTokenVerifier:
    return InternalTokenVerifier.from_spec(ring, audience)


def refused(token: str, reason: str, against: InternalTokenVerifier | None = None) -> None:
    with pytest.raises(InvalidInternalToken) as error:
        (against or verifier()).verify(token)
    assert error.value.reason == reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict, payload: dict, signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    return head + "." + b64(signature)


def claims(**changes):
    now = int(time.time())
    base = {"iss": "admin", "sub": "service:admin", "aud": "segment", "iat": now, "exp": now + 60, "jti": "j1"}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def raw_signed(payload: dict, spec: str = SIGNING) -> str:
    key_id, key = parse_signing_key(spec)
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": key_id})


# --- signing and verifying ---------------------------------------------------------------------------

def test_a_staff_token_round_trips_with_its_roles():
    token = signer().for_staff("segment", STAFF)
    caller = verifier().verify(token)
    assert caller == InternalCaller("admin", "staff:staff-42", is_service=False, staff_id="staff-42",
                                    roles=STAFF.roles, token_id=caller.token_id)
    assert caller.token_id and caller.is_staff and caller.service is None
    assert caller.has_role("総務課", "viewer") and not caller.has_role("総務課", "approver")
    assert caller.departments_with("approver") == {"防災危機管理課"}
    assert caller.holds("approver") and not caller.holds("admin")
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("EdDSA", "k1")
    body = jwt.decode(token, options={"verify_signature": False})
    assert body["exp"] - body["iat"] == 300 and body["aud"] == "segment"
    assert body["roles"] == [{"department": "防災危機管理課", "role": "approver"},
                             {"department": "総務課", "role": "viewer"}]


def test_a_service_identity_has_no_staff_claims_and_systems_admins_hold_every_department():
    caller = verifier().verify(signer(issuer="dispatcher").as_service("segment"))
    assert (caller.subject, caller.is_service, caller.service, caller.roles) == (
        "service:dispatcher", True, "dispatcher", ())
    admin = verifier().verify(signer().for_staff("segment", ADMIN, ttl_seconds=60))
    assert admin.has_role("どこの課でも", "admin") and admin.holds_everywhere("admin")
    assert admin.departments_with("admin") == frozenset()


def test_the_signer_refuses_inconsistent_or_long_lived_tokens():
    with pytest.raises(ValueError, match="service identity"):
        signer().sign("segment", "staff:1")
    with pytest.raises(ValueError, match="staff token"):
        signer().sign("segment", "staff:someone-else", staff=STAFF)
    with pytest.raises(ValueError, match="ttl_seconds"):
        signer().as_service("segment", ttl_seconds=3600)
    with pytest.raises(ValueError, match="only システム管理者"):
        RoleGrant(None, "viewer")
    with pytest.raises(ValueError, match="unknown role"):
        RoleGrant("総務課", "superuser")  # type: ignore[arg-type]


def test_a_token_signed_by_another_key_under_the_same_id_is_forged():
    other = Ed25519PrivateKey.generate()
    forged = InternalTokenSigner("k1", other, "admin").for_staff("segment", ADMIN)
    refused(forged, "bad signature")


def test_a_tampered_payload_breaks_the_signature():
    head, _payload, signature = signer().for_staff("segment", STAFF).split(".")
    promoted = b64(json.dumps({**claims(sub="staff:x"), "staff_id": "x",
                               "roles": [{"department": None, "role": "admin"}]}).encode())
    refused(f"{head}.{promoted}.{signature}", "bad signature")


def test_expired_tokens_are_refused_after_the_leeway():
    refused(signer(clock=lambda: time.time() - 400).as_service("segment"), "expired")  # expired 100 s ago
    verifier().verify(signer(clock=lambda: time.time() - 305).as_service("segment"))  # 5 s: within leeway


def test_tokens_issued_in_the_future_are_not_yet_valid():
    refused(signer(clock=lambda: time.time() + 60).as_service("segment"), "not yet valid")
    verifier().verify(signer(clock=lambda: time.time() + 5).as_service("segment"))  # clock skew
    refused(raw_signed(claims(nbf=int(time.time()) + 60)), "not yet valid")


def test_a_token_for_another_service_is_refused_there():
    token = signer().for_staff("dispatcher", ADMIN)
    refused(token, "wrong audience")
    assert verifier(audience="dispatcher").verify(token).staff_id == "staff-1"
    refused(raw_signed(claims(aud=["segment", "dispatcher"])), "wrong audience")  # one audience per token


def test_unknown_key_ids_are_refused():
    refused(signer(OLD_SIGNING).as_service("segment"), "unknown key")
    refused(hand_made({"alg": "EdDSA", "typ": "JWT"}, claims(), b"x" * 64), "unknown key")  # no kid at all


def test_alg_none_is_refused():
    refused(hand_made({"alg": "none", "kid": "k1"}, claims()), "algorithm not allowed")
    refused(hand_made({"alg": "None", "kid": "k1"}, claims()), "algorithm not allowed")


def test_hs256_with_the_public_key_as_secret_is_refused():
    _, key = parse_signing_key(SIGNING)
    for secret in (public_key_text(key).encode(), base64.urlsafe_b64decode(public_key_text(key) + "=")):
        header = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
        payload = b64(json.dumps(claims(sub="staff:x", staff_id="x",
                                        roles=[{"department": None, "role": "admin"}])).encode())
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        refused(f"{header}.{payload}.{b64(mac)}", "algorithm not allowed")


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "...", "Bearer abc", "eyJ.eyJ.sig", "💥.💥.💥",
                                     "a" * 5000, b64(b"{}") + "." + b64(b"[]") + ".", b64(b"[1]") + ".e30."])
def test_garbage_is_malformed(garbage):
    with pytest.raises(InvalidInternalToken) as error:
        verifier().verify(garbage)
    assert error.value.reason in {"malformed token", "algorithm not allowed"}


@pytest.mark.parametrize("missing", ["iss", "sub", "aud", "iat", "exp", "jti"])
def test_every_required_claim_must_be_there(missing):
    refused(raw_signed(claims(**{missing: None})), "missing claim")


# Changes, not claims: the claims are built when the test runs (a token made at collection time
# would have expired by then in a long suite).
@pytest.mark.parametrize("changes", [
    {"sub": "service:admin", "staff_id": "1", "roles": []},  # a service does not carry staff claims
    {"sub": "staff:1", "staff_id": "2", "roles": []},  # the subject names the staff id
    {"sub": "staff:1", "staff_id": "1", "roles": [{"department": "総務課", "role": "root"}]},
    {"sub": "staff:1", "staff_id": "1", "roles": [{"department": None, "role": "viewer"}]},
    {"sub": "staff:1", "staff_id": "1", "roles": "admin"},
    {"sub": "staff:1", "staff_id": "1"},
    {"sub": "someone"},
    {"iss": ""},
])
def test_inconsistent_claims_are_refused(changes):
    refused(raw_signed(claims(**changes)), "malformed claims")


def test_long_lived_tokens_are_refused():
    now = int(time.time())
    refused(raw_signed(claims(iat=now, exp=now + 3600)), "lifetime too long")


def test_a_ring_of_two_keys_accepts_both_while_keys_rotate():
    ring = f"{VERIFYING},{OLD_VERIFYING}"
    during = verifier(ring)
    assert during.key_ids == ("k1", "k0")
    assert during.verify(signer(OLD_SIGNING).as_service("segment")).is_service  # signers not yet switched
    assert during.verify(signer(SIGNING).as_service("segment")).is_service  # switched
    refused(signer(OLD_SIGNING).as_service("segment"), "unknown key", against=verifier(VERIFYING))  # old key gone


# --- keys and settings -------------------------------------------------------------------------------

def test_generated_pairs_parse_and_match():
    key_id, private = parse_signing_key(SIGNING)
    assert key_id == "k1"
    assert public_key_text(parse_verify_keys(VERIFYING)["k1"]) == public_key_text(private)


def test_the_cli_prints_a_pair_in_the_settings_formats():
    out = io.StringIO()
    assert main(["generate", "--kid", "it2026"], out=out) == 0
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines() if not line.startswith("#"))
    token = InternalTokenSigner.from_spec(lines["INTERNAL_TOKEN_SIGNING_KEY"], "admin").as_service("segment")
    assert verifier(lines["INTERNAL_TOKEN_VERIFY_KEYS"]).verify(token).service == "admin"


@pytest.mark.parametrize(("spec", "message"), [
    ("k1", "entry 1 must be <key id>:<base64url key>"),
    ("k1:c2hvcnQ", "key 'k1' must be 32 bytes"),
    ("k1:!!!", "key 'k1' is not base64url"),
    (f"{VERIFYING},{VERIFYING}", "key id 'k1' appears twice"),
    ("", "the ring is empty"),
])
def test_malformed_rings_are_explained(spec, message):
    with pytest.raises(InternalKeyError, match=message):
        parse_verify_keys(spec)


def test_settings_need_the_ring_and_explain_bad_keys_without_echoing_them(monkeypatch):
    monkeypatch.delenv("INTERNAL_TOKEN_VERIFY_KEYS", raising=False)
    monkeypatch.delenv("INTERNAL_TOKEN_SIGNING_KEY", raising=False)
    with pytest.raises(ConfigError, match="INTERNAL_TOKEN_VERIFY_KEYS: is required but not set"):
        load_settings(InternalAuthSettings)
    monkeypatch.setenv("INTERNAL_TOKEN_VERIFY_KEYS", VERIFYING)
    settings = load_settings(InternalAuthSettings)
    assert settings.internal_token_signer("admin") is None
    assert settings.internal_token_verifier("segment").audience == "segment"

    monkeypatch.setenv("INTERNAL_TOKEN_SIGNING_KEY", OLD_SIGNING.replace("k0:", "k1:"))
    with pytest.raises(ConfigError) as error:
        load_settings(InternalAuthSettings)
    assert "INTERNAL_TOKEN_SIGNING_KEY: key 'k1' is not the private half" in str(error.value)
    assert OLD_SIGNING.split(":")[1] not in str(error.value)

    monkeypatch.setenv("INTERNAL_TOKEN_SIGNING_KEY", "k9:c2hvcnQ")
    with pytest.raises(ConfigError, match="INTERNAL_TOKEN_SIGNING_KEY: key 'k9' must be 32 bytes"):
        load_settings(InternalAuthSettings)

    monkeypatch.setenv("INTERNAL_TOKEN_SIGNING_KEY", OLD_SIGNING)  # a key of its own, not in this ring: fine
    signed = load_settings(InternalAuthSettings).internal_token_signer("admin")
    assert signed is not None and signed.key_id == "k0"


# --- the Flask guard ---------------------------------------------------------------------------------

def app_with_routes(with_verifier: bool = True):
    app = create_base_app("auth-test", {}, trusted_proxies=0,
                          internal_verifier=verifier() if with_verifier else None)

    @app.get("/internal/stats")
    @requires(ANY_STAFF | SERVICE_IDENTITY)
    def stats() -> Response:
        return jsonify(subject=current_caller().subject)

    @app.post("/internal/settings")
    @requires_role("admin")
    def change() -> Response:
        return jsonify(ok=True)

    @app.get("/internal/from-dispatcher")
    @requires(services("dispatcher"))
    def only_dispatcher() -> Response:
        return jsonify(ok=True)

    @app.get("/internal/forgotten")
    def forgotten() -> Response:  # no @requires: nobody may call it
        return jsonify(ok=True)

    @app.post("/callback")
    def callback() -> Response:  # anonymous, like ingress's webhook
        return jsonify(ok=True)

    @app.get("/public")
    def public() -> Response:
        with pytest.raises(RuntimeError, match="no verified internal caller"):
            current_caller()
        return jsonify(ok=True)

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refusals(reason: str) -> float:
    return INTERNAL_AUTH_REFUSALS.labels("auth-test", reason)._value.get()


def test_internal_requests_without_a_valid_token_get_401_before_any_view():
    client = app_with_routes().test_client()
    before = refusals("missing bearer token")
    for response in (client.get("/internal/stats"), client.post("/internal/settings"),
                     client.get("/internal/stats", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
                     client.get("/internal/stats", headers={"Authorization": "Bearer "}),
                     client.get("/internal/no/such/route"), client.get("/internal"),
                     client.open("/internal/stats", method="OPTIONS")):
        assert response.status_code == 401
        assert response.json == {"error": "Unauthorized", "reason": "missing bearer token"}
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert refusals("missing bearer token") == before + 7
    wrong = client.get("/internal/stats", headers=bearer(signer().for_staff("dispatcher", STAFF)))
    assert (wrong.status_code, wrong.json["reason"]) == (401, "wrong audience")
    assert wrong.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_a_valid_token_reaches_the_view_which_applies_its_rule():
    client = app_with_routes().test_client()
    viewer = bearer(signer().for_staff("segment", STAFF))
    assert client.get("/internal/stats", headers=viewer).json == {"subject": "staff:staff-42"}
    denied = client.post("/internal/settings", headers=viewer)
    assert denied.status_code == 403
    assert denied.json == {"error": "Forbidden", "reason": "needs the staff role 'admin' (システム管理者)"}
    admin = bearer(signer().for_staff("segment", ADMIN))
    assert client.post("/internal/settings", headers=admin).status_code == 200
    service = bearer(signer(issuer="richmenu").as_service("segment"))
    assert client.get("/internal/stats", headers=service).status_code == 200
    assert client.post("/internal/settings", headers=service).status_code == 403
    assert client.get("/internal/from-dispatcher", headers=service).status_code == 403
    assert client.get("/internal/from-dispatcher",
                      headers=bearer(signer(issuer="dispatcher").as_service("segment"))).status_code == 200
    assert client.get("/internal/no/such/route", headers=admin).status_code == 404  # authenticated: a real 404


def test_an_internal_view_without_a_rule_refuses_everyone():
    client = app_with_routes().test_client()
    response = client.get("/internal/forgotten", headers=bearer(signer().for_staff("segment", ADMIN)))
    assert response.status_code == 403
    assert response.json["reason"] == "no access rule is declared for this route"


def test_an_app_without_a_verifier_refuses_every_internal_request():
    client = app_with_routes(with_verifier=False).test_client()
    response = client.get("/internal/stats", headers=bearer(signer().for_staff("segment", ADMIN)))
    assert response.status_code == 401
    assert response.json["reason"] == "internal API not enabled"


def test_other_routes_are_not_touched():
    client = app_with_routes().test_client()
    assert client.post("/callback").status_code == 200
    assert client.get("/public").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/internally").status_code == 404  # only /internal and below are guarded
