"""Helpers for tests in every directory (importable because pytest puts the repo root on sys.path)."""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import pytest
from cityline_common.amqp.topology import declare_with_url
from cityline_common.crypto import FieldCipher
from cityline_common.internal_auth import InternalTokenSigner, Role, RoleGrant, StaffClaims
from cityline_common.line_events import LineWebhookEvent

ROOT = Path(__file__).resolve().parents[1]
# Every installable package of the repository, as the Makefile finds them.
LOCAL_PACKAGES = sorted(
    p.parent for top in ("libs", "services", "tools") for p in (ROOT / top).glob("*/pyproject.toml")
)

TEST_KEYS = {
    # Fixed keys for tests only (32 repeated bytes each); never used outside tests.
    "FIELD_ENCRYPTION_KEYS": (
        "test2:MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE,test1:MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI"
    ),
    # A keyring with a key id, so stored indexes are "idx1:<hex>" (a bare key would be "k0", bare hex).
    "BLIND_INDEX_KEY": "idx1:MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM",
    "LINE_CHANNEL_SECRET": "8c570fa6dd201bb328f1c1eac23a96d8",
    "LINE_CHANNEL_ACCESS_TOKEN": "test-channel-access-token",
    # Internal API tokens (Ed25519; seeds of 32 repeated bytes): the services sign with test-it1 and
    # verify against a ring that still lists test-it0, the key being rotated out.
    "INTERNAL_TOKEN_SIGNING_KEY": "test-it1:NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ",
    "INTERNAL_TOKEN_VERIFY_KEYS": (
        "test-it1:6yzxO_euOl9hQWih-wknLTl3HsS4UjcngV5GbK-O4WM,test-it0:ptJFXqOldxq6n8sDeSQRTJL58yUEn2tCaec52QSLuGk"
    ),
}
# The private half of test-it0, the older key of the test verify ring.
RETIRING_TEST_SIGNING_KEY = "test-it0:NTU1NTU1NTU1NTU1NTU1NTU1NTU1NTU1NTU1NTU1NTU"


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05, message: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; fail the test with ``message`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


Delivery = tuple[pika.spec.Basic.Deliver, pika.BasicProperties, bytes]


def drain(url: str, queue: str, timeout: float = 2.0) -> list[Delivery]:
    """Take every message currently in ``queue`` (acked), waiting ``timeout`` for stragglers."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        taken = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                time.sleep(0.05)
                continue
            taken.append((method, properties, body))
            deadline = time.monotonic() + 0.3
        return taken
    finally:
        connection.close()


@contextmanager
def tap_queue(url: str, exchange: str, binding: str = "#", prefix: str = "tap") -> Iterator[str]:
    """A quorum queue of the test's own bound to ``exchange``: it sees what our code publishes there.

    Declares the platform's topology first. The queue is deleted afterwards over a new connection,
    so a test may restart the broker while the tap exists."""
    declare_with_url(url)
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(name, exchange, binding)
    finally:
        connection.close()
    try:
        yield name
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            connection.channel().queue_delete(name)
        finally:
            connection.close()


def procfile() -> dict[str, list[str]]:
    """The Procfile's processes: name → argv."""
    entries = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = shlex.split(command)
    return entries


def sign_webhook(body: bytes, channel_secret: str = TEST_KEYS["LINE_CHANNEL_SECRET"]) -> str:
    """X-Line-Signature as LINE computes it: the emulator's implementation, not the one under test."""
    from line_emulator.webhooks import sign

    return sign(channel_secret, body)


def fixed_cipher() -> FieldCipher:
    """The field cipher under the fixed test keys (what the services under test use)."""
    return FieldCipher.from_spec(TEST_KEYS["FIELD_ENCRYPTION_KEYS"])


def opened_line_event(body: bytes) -> dict[str, Any]:
    """The LINE event a ``line.events`` message carries sealed, as LINE sent it."""
    return LineWebhookEvent.parse(body).open(fixed_cipher()).event


def internal_signer(issuer: str = "tests", key: str | None = None) -> InternalTokenSigner:
    """A signer with the fixed test key (the one every service under test verifies)."""
    return InternalTokenSigner.from_spec(key or TEST_KEYS["INTERNAL_TOKEN_SIGNING_KEY"], issuer)


def internal_token(
    audience: str,
    roles: tuple[tuple[str | None, Role], ...] = (("総務課", "viewer"),),
    *,
    service: str | None = None,
    staff_id: str = "staff-test-1",
    ttl_seconds: int = 300,
) -> str:
    """A valid token for ``audience``: a staff member with ``roles`` ((department, role) pairs; the
    department None for システム管理者, held in every department), or, with ``service``, that service
    acting on its own behalf."""
    if service is not None:
        return internal_signer(service).as_service(audience, ttl_seconds=ttl_seconds)
    staff = StaffClaims(staff_id, tuple(RoleGrant(department, role) for department, role in roles))
    return internal_signer().for_staff(audience, staff, ttl_seconds=ttl_seconds)


def internal_headers(audience: str, roles: tuple[tuple[str | None, Role], ...] = (("総務課", "viewer"),),
                     **options: Any) -> dict[str, str]:
    """``Authorization: Bearer …`` with :func:`internal_token`."""
    return {"Authorization": f"Bearer {internal_token(audience, roles, **options)}"}
