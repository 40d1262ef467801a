"""LINE Login token verification for the residents' LIFF page (受信設定).

The page sends the raw token LINE gave it (``Authorization: Bearer <token>``), never a user id: the
user id is whatever LINE's verify endpoints say the token belongs to (LINE Login security checklist,
items 9-12; ../shared/reference/security.md §3).

* **ID token** (preferred; three dot-separated parts): ``POST {base}/oauth2/v2.1/verify`` with
  ``id_token`` and ``client_id`` = our LINE Login channel id, plus ``nonce`` when the client sent one.
  LINE checks the signature, the audience, the expiry and the nonce; we check again what it returns:
  ``iss`` is ``https://access.line.me``, ``aud`` is our channel, ``exp`` is in the future, ``sub`` is a
  LINE user id. A nonce is accepted once: ``claim_nonce`` records it (shared by every replica) and a
  nonce seen before is a replay.
* **Access token**: ``GET {base}/oauth2/v2.1/verify?access_token=…`` must answer our channel id as
  ``client_id`` and a positive ``expires_in``; then ``GET {base}/v2/profile`` gives the user id. LINE
  Login v2.1 access tokens look like JWTs too, so a three-part token LINE refuses as an ID token is
  asked about as an access token (unless a nonce came with it).

Every refusal is a :class:`LineLoginRefused` with a fixed short reason (never token content), so it
can be answered and counted as it is.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import requests
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert

ISSUER = "https://access.line.me"
LINE_LOGIN_API = "https://api.line.me"
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{16,4096}$")
_NONCE = re.compile(r"^[\x21-\x7e]{8,255}$")  # printable ASCII, no spaces
_CLOCK_SKEW = 10  # seconds our clock may differ from LINE's

Reason = Literal[
    "missing token", "malformed token", "malformed nonce", "refused by LINE", "wrong issuer", "wrong channel",
    "expired", "no user id", "replayed nonce", "LINE unavailable", "token in the query string",
]


class LineLoginRefused(Exception):
    """The token does not prove who the resident is. ``reason`` is a fixed phrase, safe to show."""

    def __init__(self, reason: Reason, status: int = 401) -> None:
        super().__init__(reason)
        self.reason: Reason = reason
        self.status = status  # 401, or 503 when LINE could not be asked


@dataclass(frozen=True)
class VerifiedLineUser:
    user_id: str  # from LINE's answer, never from the client
    token_kind: Literal["id_token", "access_token"]


NonceClaim = Callable[[str], bool]
"""Records a nonce as used; False when it was seen before (a replay)."""


class LineLoginVerifier:
    def __init__(
        self,
        channel_id: str,
        claim_nonce: NonceClaim,
        *,
        base_url: str = LINE_LOGIN_API,
        session: requests.Session | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not channel_id.isdigit():
            raise ValueError("the LINE Login channel id is a number (LINE Developers console)")
        self.channel_id = channel_id
        self._claim_nonce = claim_nonce
        self._base = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._timeout = timeout
        self._clock = clock

    def verify(self, token: str | None, nonce: str | None = None) -> VerifiedLineUser:
        """An ID token (three parts) or an access token; ``nonce``: what the client logged in with."""
        if not token:
            raise LineLoginRefused("missing token")
        if not _TOKEN.match(token):
            raise LineLoginRefused("malformed token")
        if token.count(".") == 2:
            try:
                return self.verify_id_token(token, nonce)
            except LineLoginRefused as refused:
                # LINE Login v2.1 access tokens are JWTs too: one LINE does not take as an ID token may
                # still be an access token (never when a nonce was sent: that is an ID token's).
                if nonce is not None or refused.reason != "refused by LINE":
                    raise
        elif nonce is not None:
            raise LineLoginRefused("malformed nonce")  # a nonce belongs to an ID token
        return self.verify_access_token(token)

    def verify_id_token(self, token: str, nonce: str | None = None) -> VerifiedLineUser:
        if nonce is not None and not _NONCE.match(nonce):
            raise LineLoginRefused("malformed nonce")
        form = {"id_token": token, "client_id": self.channel_id}
        if nonce is not None:
            form["nonce"] = nonce
        claims = self._call("POST", "/oauth2/v2.1/verify", data=form)
        if claims.get("iss") != ISSUER:
            raise LineLoginRefused("wrong issuer")
        audience = claims.get("aud")
        if audience != self.channel_id and not (isinstance(audience, list) and self.channel_id in audience):
            raise LineLoginRefused("wrong channel")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires + _CLOCK_SKEW <= self._clock():
            raise LineLoginRefused("expired")
        if nonce is not None and claims.get("nonce") != nonce:
            raise LineLoginRefused("refused by LINE")
        user_id = claims.get("sub")
        if not isinstance(user_id, str) or not _USER_ID.match(user_id):
            raise LineLoginRefused("no user id")
        # Only after LINE accepted the token: a stranger's made-up nonces cannot use up the record.
        if nonce is not None and not self._claim_nonce(nonce):
            raise LineLoginRefused("replayed nonce")
        return VerifiedLineUser(user_id, "id_token")

    def verify_access_token(self, token: str) -> VerifiedLineUser:
        answer = self._call("GET", "/oauth2/v2.1/verify", params={"access_token": token})
        if str(answer.get("client_id")) != self.channel_id:
            raise LineLoginRefused("wrong channel")
        expires_in = answer.get("expires_in")
        if not isinstance(expires_in, int) or expires_in <= 0:
            raise LineLoginRefused("expired")
        profile = self._call("GET", "/v2/profile", headers={"Authorization": f"Bearer {token}"})
        user_id = profile.get("userId")
        if not isinstance(user_id, str) or not _USER_ID.match(user_id):
            raise LineLoginRefused("no user id")
        return VerifiedLineUser(user_id, "access_token")

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        try:
            response = self._session.request(method, f"{self._base}{path}", timeout=self._timeout,
                                             allow_redirects=False, **options)
        except requests.RequestException:
            raise LineLoginRefused("LINE unavailable", 503) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise LineLoginRefused("LINE unavailable", 503)
        if response.status_code != 200:
            raise LineLoginRefused("refused by LINE")  # 400/401: invalid, expired, wrong audience or nonce
        try:
            body = response.json()
        except ValueError:
            raise LineLoginRefused("LINE unavailable", 503) from None
        if not isinstance(body, dict):
            raise LineLoginRefused("LINE unavailable", 503)
        return body


NONCE_CONSUMER = "liff.id-token-nonce"


def sql_nonce_claim(engine: Engine) -> NonceClaim:
    """Nonces recorded in the schema's ``processed_messages`` (every replica sees them), as SHA-256,
    kept as long as message ids (a week, the outbox relay purges them): far beyond an ID token's life,
    so a token cannot outlive the record of its nonce."""
    from segment_service.adapters.orm import plumbing

    table = plumbing.processed_messages

    def claim(nonce: str) -> bool:
        digest = hashlib.sha256(nonce.encode()).hexdigest()
        with engine.begin() as connection:
            inserted = connection.execute(
                pg_insert(table).values(consumer=NONCE_CONSUMER, message_id=digest)
                .on_conflict_do_nothing().returning(table.c.message_id)
            ).first()
        return inserted is not None

    return claim
