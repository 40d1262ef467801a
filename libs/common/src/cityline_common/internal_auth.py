"""Internal APIs deny by default: short-lived signed tokens between the platform's processes.

Every request to a path under ``/internal/`` carries ``Authorization: Bearer <token>``: a JWT signed
with Ed25519 (``alg: EdDSA``, nothing else is accepted) that names

* ``iss`` — the process that signed it (its manifest name, e.g. ``admin``);
* ``sub`` — who is asking: ``service:<name>`` for a service acting on its own behalf, or
  ``staff:<staff id>`` for a staff member, with ``staff_id`` and ``roles`` (a list of
  ``{"department": …, "role": "admin" | "approver" | "author" | "viewer"}``: システム管理者 / 承認者 /
  作成者 / 閲覧者 per 所属; ``"department": null`` is a role held in every department, which is how
  admin-ui grants システム管理者);
* ``aud`` — the one service it is for (the target's manifest name, e.g. ``segment``): a token for one
  service is refused by every other;
* ``iat``, ``exp`` (minutes later at most: :data:`MAX_TTL_SECONDS`) and a unique ``jti``.

Keys: the signer holds an Ed25519 private key (``INTERNAL_TOKEN_SIGNING_KEY``, ``kid:base64url(seed)``)
and names it in the token's header (``kid``); services verify against a ring of public keys
(``INTERNAL_TOKEN_VERIFY_KEYS``, ``kid:base64url(public key),…``), so keys rotate without downtime:
add the new public key to every ring, then switch the signer, then drop the old public key.
``cityline-internal-keys generate`` prints a new pair.

Enforcement: :func:`cityline_common.web.create_base_app` installs :func:`install_internal_guard`, so
an ``/internal/`` request without a token that verifies for the service's own audience gets 401
before any view runs — also on an app built without a verifier (deny by default), and also for
paths no route matches (nothing to learn about which routes exist). The owning service then decides
what the verified caller may do, view by view, with :func:`requires` (403 otherwise); an
``/internal/`` view that declares no rule refuses everyone (403).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, ParamSpec, TextIO, cast, get_args

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from flask import Flask, Response, g, jsonify, request
from flask.typing import ResponseReturnValue

from cityline_common.metrics import INTERNAL_AUTH_REFUSALS

log = logging.getLogger(__name__)

Role = Literal["admin", "approver", "author", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
ROLE_LABELS: Mapping[Role, str] = {
    "admin": "システム管理者", "approver": "承認者", "author": "作成者", "viewer": "閲覧者",
}

ALGORITHM = "EdDSA"
LEEWAY_SECONDS = 10
DEFAULT_TTL_SECONDS = 300
MAX_TTL_SECONDS = 900
MAX_TOKEN_CHARS = 4096
SERVICE_PREFIX = "service:"
STAFF_PREFIX = "staff:"
INTERNAL_PREFIX = "/internal"
_REQUIRED_CLAIMS = ["iss", "sub", "aud", "iat", "exp", "jti"]
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_RULE_ATTRIBUTE = "__cityline_caller_rule__"


class InvalidInternalToken(Exception):
    """The token is missing, malformed, forged, expired or not for this service.

    ``reason`` is one short fixed phrase (safe to return to the caller and to use as a metric
    label); it never quotes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InternalKeyError(ValueError):
    """A key setting is malformed (the message names the key id, never the key)."""


# --- who is asking -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RoleGrant:
    """One role of a staff member in one department (所属), or in every department (``None``: only
    システム管理者 is held that way)."""

    department: str | None
    role: Role

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; one of {', '.join(ROLES)}")
        if self.department is None:
            if self.role != "admin":
                raise ValueError("only システム管理者 (admin) is held without a department")
        elif not isinstance(self.department, str) or not 1 <= len(self.department) <= 100:
            raise ValueError("a department is 1 to 100 characters")

    def applies_to(self, department: str) -> bool:
        return self.department is None or self.department == department

    def as_claim(self) -> dict[str, str | None]:
        return {"department": self.department, "role": self.role}


@dataclass(frozen=True)
class StaffClaims:
    """What a staff token says about the signed-in staff member."""

    staff_id: str
    roles: tuple[RoleGrant, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.staff_id, str) or not 1 <= len(self.staff_id) <= 128:
            raise ValueError("a staff id is 1 to 128 characters")
        object.__setattr__(self, "roles", tuple(self.roles))

    @property
    def subject(self) -> str:
        return staff_subject(self.staff_id)


def staff_subject(staff_id: str) -> str:
    return f"{STAFF_PREFIX}{staff_id}"


def service_subject(name: str) -> str:
    return f"{SERVICE_PREFIX}{name}"


@dataclass(frozen=True)
class InternalCaller:
    """The verified caller of an internal API request."""

    issuer: str
    subject: str
    is_service: bool
    staff_id: str | None
    roles: tuple[RoleGrant, ...]
    token_id: str = ""

    @property
    def is_staff(self) -> bool:
        return self.staff_id is not None

    @property
    def service(self) -> str | None:
        """The calling service's name for a service identity, else None."""
        return self.subject.removeprefix(SERVICE_PREFIX) if self.is_service else None

    def has_role(self, department: str, role: Role) -> bool:
        """Whether the caller holds ``role`` in ``department`` (or in every department)."""
        return any(grant.role == role and grant.applies_to(department) for grant in self.roles)

    def holds(self, role: Role) -> bool:
        """Whether the caller holds ``role`` anywhere."""
        return any(grant.role == role for grant in self.roles)

    def holds_everywhere(self, role: Role) -> bool:
        return any(grant.role == role and grant.department is None for grant in self.roles)

    def departments_with(self, role: Role) -> frozenset[str]:
        """The named departments where the caller holds ``role`` (see :meth:`holds_everywhere`)."""
        return frozenset(grant.department for grant in self.roles
                         if grant.role == role and grant.department is not None)


# --- keys --------------------------------------------------------------------------------------------

def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_key(material: str, what: str) -> bytes:
    text = material.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InternalKeyError(f"{what} is not base64url") from None
    if len(raw) != 32:
        raise InternalKeyError(f"{what} must be 32 bytes of base64url (an Ed25519 key), got {len(raw)} bytes")
    return raw


def _entries(spec: str) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    for position, part in enumerate(filter(None, (item.strip() for item in spec.split(","))), start=1):
        key_id, sep, material = part.partition(":")
        if not sep or not _KEY_ID.match(key_id):  # never echo the entry: it may be a key
            raise InternalKeyError(f"entry {position} must be <key id>:<base64url key>, "
                                   "key id of 1-32 letters, digits, - or _")
        if any(existing == key_id for existing, _ in entries):
            raise InternalKeyError(f"key id {key_id!r} appears twice")
        entries.append((key_id, material))
    return entries


def parse_signing_key(spec: str) -> tuple[str, Ed25519PrivateKey]:
    """``kid:base64url(32-byte Ed25519 private seed)`` → (key id, private key)."""
    entries = _entries(spec)
    if len(entries) != 1:
        raise InternalKeyError("must be exactly one <key id>:<base64url private key>")
    [(key_id, material)] = entries
    return key_id, Ed25519PrivateKey.from_private_bytes(_decode_key(material, f"key {key_id!r}"))


def parse_verify_keys(spec: str) -> dict[str, Ed25519PublicKey]:
    """``kid:base64url(32-byte Ed25519 public key),kid2:…`` → public keys by key id (a ring)."""
    ring = {key_id: Ed25519PublicKey.from_public_bytes(_decode_key(material, f"key {key_id!r}"))
            for key_id, material in _entries(spec)}
    if not ring:
        raise InternalKeyError("the ring is empty")
    return ring


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def generate_key_pair(key_id: str) -> tuple[str, str]:
    """A new (``INTERNAL_TOKEN_SIGNING_KEY``, ``INTERNAL_TOKEN_VERIFY_KEYS`` entry) pair."""
    if not _KEY_ID.match(key_id):
        raise InternalKeyError("a key id is 1-32 letters, digits, - or _")
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return f"{key_id}:{_b64encode(seed)}", f"{key_id}:{public_key_text(private)}"


# --- signing and verifying ---------------------------------------------------------------------------

class InternalTokenSigner:
    """Signs tokens for the internal APIs of other services, as ``issuer`` (its own manifest name)."""

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey, issuer: str,
                 *, clock: Callable[[], float] = time.time) -> None:
        if not _KEY_ID.match(key_id):
            raise InternalKeyError("a key id is 1-32 letters, digits, - or _")
        if not _NAME.match(issuer):
            raise ValueError(f"issuer {issuer!r} must be a service name (lower case, digits, -)")
        self.key_id = key_id
        self.issuer = issuer
        self._key = private_key
        self._clock = clock

    @classmethod
    def from_spec(cls, spec: str, issuer: str) -> InternalTokenSigner:
        key_id, key = parse_signing_key(spec)
        return cls(key_id, key, issuer)

    def sign(self, audience: str, subject: str, *, staff: StaffClaims | None = None,
             ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
        """A token for ``audience`` (the target's manifest name). ``subject`` is ``service:<name>``
        without ``staff``, or ``staff:<staff id>`` of the ``staff`` given."""
        if not _NAME.match(audience):
            raise ValueError(f"audience {audience!r} must be a service's manifest name")
        if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be from 1 to {MAX_TTL_SECONDS}")
        claims: dict[str, Any] = {}
        if staff is None:
            if not subject.startswith(SERVICE_PREFIX) or not _NAME.match(subject.removeprefix(SERVICE_PREFIX)):
                raise ValueError("a token without staff claims is a service identity: subject 'service:<name>'")
        else:
            if subject != staff.subject:
                raise ValueError("a staff token's subject is 'staff:<its staff id>'")
            claims = {"staff_id": staff.staff_id, "roles": [grant.as_claim() for grant in staff.roles]}
        now = int(self._clock())
        payload = {"iss": self.issuer, "sub": subject, "aud": audience, "iat": now, "exp": now + ttl_seconds,
                   "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"kid": self.key_id, "typ": "JWT"})

    def as_service(self, audience: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
        """This process acting on its own behalf: ``sub`` is ``service:<issuer>``."""
        return self.sign(audience, service_subject(self.issuer), ttl_seconds=ttl_seconds)

    def for_staff(self, audience: str, staff: StaffClaims, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
        """On behalf of a signed-in staff member."""
        return self.sign(audience, staff.subject, staff=staff, ttl_seconds=ttl_seconds)


class InternalTokenVerifier:
    """Verifies tokens meant for one service (``audience``: its manifest name) against a key ring."""

    def __init__(self, public_keys: Mapping[str, Ed25519PublicKey], audience: str,
                 *, leeway_seconds: int = LEEWAY_SECONDS, max_ttl_seconds: int = MAX_TTL_SECONDS) -> None:
        if not public_keys:
            raise InternalKeyError("a verifier needs at least one public key")
        if not _NAME.match(audience):
            raise ValueError(f"audience {audience!r} must be a service's manifest name")
        self.audience = audience
        self._keys = dict(public_keys)
        self._leeway = leeway_seconds
        self._max_ttl = max_ttl_seconds

    @classmethod
    def from_spec(cls, spec: str, audience: str) -> InternalTokenVerifier:
        return cls(parse_verify_keys(spec), audience)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def verify(self, token: str) -> InternalCaller:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidInternalToken("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidInternalToken("malformed token") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidInternalToken("algorithm not allowed")
        key_id = header.get("kid")
        key = self._keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            raise InvalidInternalToken("unknown key")
        try:
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=self.audience, leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS, "strict_aud": True, "verify_signature": True,
                         "verify_exp": True, "verify_iat": True, "verify_nbf": True, "verify_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidInternalToken("expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidInternalToken("not yet valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidInternalToken("wrong audience") from None
        except jwt.MissingRequiredClaimError:
            raise InvalidInternalToken("missing claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidInternalToken("bad signature") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidInternalToken("algorithm not allowed") from None
        except jwt.PyJWTError:
            raise InvalidInternalToken("malformed token") from None
        return self._caller(claims)

    def _caller(self, claims: dict[str, Any]) -> InternalCaller:
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, int | float) or not isinstance(expires, int | float) or expires <= issued:
            raise InvalidInternalToken("malformed claims")
        if expires - issued > self._max_ttl:
            raise InvalidInternalToken("lifetime too long")
        issuer, subject, token_id = claims["iss"], claims["sub"], claims["jti"]
        if not all(isinstance(value, str) and value for value in (issuer, subject, token_id)):
            raise InvalidInternalToken("malformed claims")
        staff_claims = "staff_id" in claims or "roles" in claims
        if subject.startswith(SERVICE_PREFIX):
            if staff_claims or not _NAME.match(subject.removeprefix(SERVICE_PREFIX)):
                raise InvalidInternalToken("malformed claims")
            return InternalCaller(issuer, subject, is_service=True, staff_id=None, roles=(), token_id=token_id)
        if not subject.startswith(STAFF_PREFIX):
            raise InvalidInternalToken("malformed claims")
        staff_id, raw_roles = claims.get("staff_id"), claims.get("roles")
        if not isinstance(staff_id, str) or subject != staff_subject(staff_id) or not isinstance(raw_roles, list):
            raise InvalidInternalToken("malformed claims")
        try:
            staff = StaffClaims(staff_id, tuple(_grant(each) for each in raw_roles))
        except (TypeError, ValueError):
            raise InvalidInternalToken("malformed claims") from None
        return InternalCaller(issuer, subject, is_service=False, staff_id=staff.staff_id, roles=staff.roles,
                              token_id=token_id)


def _grant(raw: object) -> RoleGrant:
    if not isinstance(raw, dict) or set(raw) != {"department", "role"}:
        raise ValueError("a role is {department, role}")
    return RoleGrant(raw["department"], raw["role"])


# --- what a caller may do ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CallerRule:
    """Who may call a view: a test on the verified caller and how a 403 describes it."""

    description: str
    test: Callable[[InternalCaller], bool]

    def allows(self, caller: InternalCaller) -> bool:
        return self.test(caller)

    def __or__(self, other: CallerRule) -> CallerRule:
        return CallerRule(f"{self.description} or {other.description}",
                          lambda caller: self.allows(caller) or other.allows(caller))


SERVICE_IDENTITY = CallerRule("a service identity", lambda caller: caller.is_service)
ANY_STAFF = CallerRule("a staff member with a role", lambda caller: caller.is_staff and bool(caller.roles))


def staff_role(*roles: Role) -> CallerRule:
    """A staff member holding one of ``roles`` in some department."""
    if not roles or any(role not in ROLES for role in roles):
        raise ValueError(f"name at least one role of {', '.join(ROLES)}")
    wanted = " or ".join(f"'{role}' ({ROLE_LABELS[role]})" for role in roles)
    return CallerRule(f"the staff role {wanted}",
                      lambda caller: caller.is_staff and any(caller.holds(role) for role in roles))


def services(*names: str) -> CallerRule:
    """One of these services acting on its own behalf."""
    return CallerRule(f"the service {' or '.join(names)}",
                      lambda caller: caller.is_service and caller.service in names)


P = ParamSpec("P")


def requires(rule: CallerRule) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """The view answers only callers ``rule`` allows: 401 without a verified caller, 403 (with the
    rule's description as the reason) otherwise. Put it under the route decorator::

        @app.post("/internal/taxonomy")
        @requires(staff_role("admin"))
        def post_taxonomy() -> ...
    """

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            caller = g.get("caller")
            if not isinstance(caller, InternalCaller):
                return unauthorized("missing bearer token")
            if not rule.allows(caller):
                return forbidden(rule)
            return view(*args, **kwargs)

        setattr(guarded, _RULE_ATTRIBUTE, rule)
        return guarded

    return decorate


def requires_role(*roles: Role) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """``@requires(staff_role(*roles))``."""
    return requires(staff_role(*roles))


def current_caller() -> InternalCaller:
    """The verified caller of this request (an ``/internal/`` request that passed the guard)."""
    caller = g.get("caller")
    if not isinstance(caller, InternalCaller):
        raise RuntimeError("no verified internal caller for this request (not under /internal/?)")
    return caller


def unauthorized(reason: str, *, invalid_token: bool = False) -> Response:
    response = jsonify(error="Unauthorized", reason=reason)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
    return response


def forbidden(rule: CallerRule | None) -> Response:
    reason = f"needs {rule.description}" if rule else "no access rule is declared for this route"
    response = jsonify(error="Forbidden", reason=reason)
    response.status_code = 403
    return response


def is_internal_path(path: str) -> bool:
    return path == INTERNAL_PREFIX or path.startswith(INTERNAL_PREFIX + "/")


def install_internal_guard(app: Flask, service: str, verifier: InternalTokenVerifier | None) -> None:
    """Every request under ``/internal/`` needs a bearer token that ``verifier`` accepts, else 401;
    without a verifier, every such request is refused. Other paths are not touched."""

    def refuse(reason: str, *, invalid_token: bool) -> Response:
        INTERNAL_AUTH_REFUSALS.labels(service, reason).inc()
        log.warning("internal API request refused", extra={"reason": reason, "method": request.method,
                                                           "route": _route()})
        return unauthorized(reason, invalid_token=invalid_token)

    @app.before_request
    def _internal_guard() -> Response | None:
        rule = request.url_rule
        if not is_internal_path(request.path) and not (rule is not None and is_internal_path(rule.rule)):
            return None
        if verifier is None:
            return refuse("internal API not enabled", invalid_token=False)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return refuse("missing bearer token", invalid_token=False)
        try:
            caller = verifier.verify(token)
        except InvalidInternalToken as exc:
            return refuse(exc.reason, invalid_token=True)
        g.caller = caller
        view = app.view_functions.get(rule.endpoint) if rule is not None else None
        if view is not None and getattr(view, _RULE_ATTRIBUTE, None) is None:
            # Deny by default for authorisation too: a view must say who may call it.
            INTERNAL_AUTH_REFUSALS.labels(service, "no access rule").inc()
            log.error("internal route without an access rule refused", extra={"route": _route()})
            g.internal_refusal_counted = True
            return forbidden(None)
        return None

    @app.after_request
    def _count_forbidden(response: Response) -> Response:
        if (response.status_code == 403 and isinstance(g.get("caller"), InternalCaller)
                and not g.get("internal_refusal_counted")):
            INTERNAL_AUTH_REFUSALS.labels(service, "forbidden").inc()
            log.warning("internal API caller lacks access", extra={
                "caller": cast(InternalCaller, g.caller).subject, "route": _route(), "method": request.method})
        return response


def _route() -> str:
    return request.url_rule.rule if request.url_rule else "unmatched"


# --- cityline-internal-keys --------------------------------------------------------------------------

def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """``cityline-internal-keys generate [--kid KID]``: a new Ed25519 key pair for internal tokens."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="cityline-internal-keys",
                                     description="Keys of the tokens the internal APIs require.")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="print a new key pair in the settings' formats")
    generate.add_argument("--kid", default=f"it{date.today():%Y%m%d}",
                          help="key id (1-32 letters, digits, - or _); default it<YYYYMMDD>")
    args = parser.parse_args(argv)
    try:
        signing, verifying = generate_key_pair(args.kid)
    except InternalKeyError as exc:
        print(f"--kid: {exc}", file=sys.stderr)
        return 2
    print("# The private key: only for processes that call other services (a secret).", file=out)
    print(f"INTERNAL_TOKEN_SIGNING_KEY={signing}", file=out)
    print("# The public key: add it to every service's ring (comma-separated) before switching the signer.",
          file=out)
    print(f"INTERNAL_TOKEN_VERIFY_KEYS={verifying}", file=out)
    return 0
