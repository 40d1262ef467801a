"""LINE Login verify endpoints, so a LIFF flow can be tested end to end.

``POST /_emulator/login-tokens`` mints an ID token and an access token for a resident (what the
LIFF SDK would hold after login); the backend then verifies them as it would against LINE:
``POST /oauth2/v2.1/verify`` (ID token), ``GET /oauth2/v2.1/verify`` (access token) and
``GET /v2/profile`` (the token owner's profile).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request

if TYPE_CHECKING:
    from line_emulator.app import Emulator

login = Blueprint("login", __name__)
ISSUER = "https://access.line.me"


def _emulator() -> Emulator:
    emulator: Emulator = current_app.extensions["line_emulator"]
    return emulator


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_id_token(key: bytes, claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = _b64(json.dumps(claims, ensure_ascii=False).encode())
    signature = _b64(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def _error(description: str) -> tuple[Response, int]:
    return jsonify(error="invalid_request", error_description=description), 400


@login.post("/_emulator/login-tokens")
def issue() -> Response | tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    emulator = _emulator()
    user_id, channel_id = body.get("userId"), body.get("channelId")
    found = emulator.world.resident(user_id) if isinstance(user_id, str) else None
    if found is None or not isinstance(channel_id, str) or not channel_id:
        return jsonify(error="body: {userId (a resident), channelId, nonce?, expiresIn?}"), 400
    expires_in = int(body.get("expiresIn", 2_592_000))
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "sub": user_id, "aud": channel_id, "exp": now + min(expires_in, 3600),
                              "iat": now, "amr": ["linesso"], "name": found.display_name,
                              "picture": found.profile()["pictureUrl"]}
    if body.get("nonce"):
        claims["nonce"] = body["nonce"]
    access_token = secrets.token_urlsafe(32)
    with emulator.world.lock:
        emulator.world.access_tokens[access_token] = {"userId": user_id, "clientId": channel_id,
                                                      "expiresAt": now + expires_in, "scope": "profile openid"}
    return jsonify(idToken=mint_id_token(emulator.login_key, claims), accessToken=access_token)


@login.post("/oauth2/v2.1/verify")
def verify_id_token() -> Response | tuple[Response, int]:
    token, client_id = request.form.get("id_token", ""), request.form.get("client_id", "")
    if not token or not client_id:
        return _error("id_token and client_id are required")
    try:
        header, payload, signature = token.split(".")
        expected = _b64(hmac.new(_emulator().login_key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return _error("Invalid IdToken.")
        claims = json.loads(_unb64(payload))
    except (ValueError, json.JSONDecodeError):
        return _error("Invalid IdToken.")
    if claims.get("iss") != ISSUER:
        return _error("Invalid IdToken Issuer.")
    if claims.get("exp", 0) < time.time():
        return _error("IdToken expired.")
    if claims.get("aud") != client_id:
        return _error("Invalid IdToken Audience.")
    nonce = request.form.get("nonce")
    if nonce is not None and claims.get("nonce") != nonce:
        return _error("Invalid IdToken Nonce.")
    user_id = request.form.get("user_id")
    if user_id is not None and claims.get("sub") != user_id:
        return _error("Invalid IdToken Subject Identifier.")
    return jsonify(claims)


def _access_token(token: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = _emulator().world.access_tokens.get(token)
    return found


@login.get("/oauth2/v2.1/verify")
def verify_access_token() -> Response | tuple[Response, int]:
    found = _access_token(request.args.get("access_token", ""))
    if found is None:
        return _error("invalid access token")
    expires_in = int(found["expiresAt"] - time.time())
    if expires_in <= 0:
        return _error("access token expired")
    return jsonify(scope=found["scope"], client_id=found["clientId"], expires_in=expires_in)


@login.get("/v2/profile")
def login_profile() -> Response | tuple[Response, int]:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    found = _access_token(token)
    if found is None or found["expiresAt"] < time.time():
        return jsonify(message="Authentication failed."), 401
    resident = _emulator().world.resident(found["userId"])
    # Tokens are minted only for residents and World.reset() drops them with the population, so the
    # owner always exists (were it missing, this stays a 500 as before).
    assert resident is not None
    profile = resident.profile()
    return jsonify({key: profile[key] for key in ("userId", "displayName", "pictureUrl", "statusMessage")})
