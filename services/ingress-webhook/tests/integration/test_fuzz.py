"""Fuzzed webhooks: bodies generated from LINE's webhook.yml (schemathesis) and arbitrary bytes
(hypothesis). Whatever arrives, ingress never answers 500, and nothing unsigned is ever published."""

import json
import os

import pytest
import schemathesis
from cityline_common.amqp import ConfirmingPublisher
from cityline_common.amqp.topology import LINE_EVENTS
from cityline_common.settings import load_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ingress_webhook.bootstrap import bootstrap
from ingress_webhook.config import Settings
from ingress_webhook.entrypoints.flask_app import create_app

from testsupport import drain, sign_webhook, tap_queue
from testsupport.openapi import line_openapi_dir

pytestmark = pytest.mark.integration
SECRET = b"8c570fa6dd201bb328f1c1eac23a96d8"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
CALLBACK = schemathesis.openapi.from_path(str(line_openapi_dir() / "webhook.yml"))["/callback"]["POST"]


sign = sign_webhook


@pytest.fixture(scope="module")
def harness(migrated_database_url, amqp_url):
    settings_ = load_settings(Settings, database_url=migrated_database_url, amqp_url=amqp_url,
                              line_channel_secret=SECRET.decode())
    publisher = ConfirmingPublisher(settings_.amqp_url)
    publisher.start()
    with tap_queue(amqp_url, LINE_EVENTS, prefix="fuzz-tap") as tap:
        yield create_app(bootstrap(settings_, publisher)).test_client(), tap
    publisher.close()


def body_of(case) -> bytes:
    return json.dumps(case.body).encode()


# JSON that Python's own parser cannot take: nesting deep enough to exhaust its recursion
# (RecursionError) and integers over 4,300 digits (ValueError: integer string conversion limit).
DEEP = st.integers(min_value=1_000, max_value=200_000).map(lambda depth: b"[" * depth + b"]" * depth)
DEEP_OBJECTS = st.integers(min_value=1_000, max_value=50_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth)
LONG_NUMBERS = st.integers(min_value=4_301, max_value=50_000).map(lambda digits: b"-" + b"9" * digits)
HOSTILE = DEEP | DEEP_OBJECTS | LONG_NUMBERS


def with_hostile_field(body: bytes, hostile: bytes) -> bytes:
    """A schema-shaped body carrying one more top-level field whose value is hostile JSON."""
    return b'{"hostile": ' + hostile + (b", " + body[1:] if body[1:].strip() != b"}" else b"}")


def test_schema_generated_bodies_unsigned_publish_nothing(harness, amqp_url):
    client, tap = harness

    @FUZZ
    @given(CALLBACK.as_strategy())
    def check(case):
        body = body_of(case)
        for headers in ({}, {"X-Line-Signature": sign(body + b" ")}, {"X-Line-Signature": "x"}):
            response = client.post("/callback", data=body, headers=headers)
            assert response.status_code in (400, 401), response.status_code

    check()
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_schema_generated_bodies_signed_never_500(harness, amqp_url):
    client, tap = harness
    accepted_ids: set[str] = set()

    @FUZZ
    @given(CALLBACK.as_strategy())
    def check(case):
        body = body_of(case)
        response = client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)})
        assert response.status_code in (200, 400), (response.status_code, response.data[:300])
        if response.status_code == 200:
            accepted_ids.update(e["webhookEventId"] for e in case.body["events"])

    check()
    published = {props.message_id for _, props, _ in drain(amqp_url, tap)}
    assert published <= accepted_ids  # nothing beyond what was accepted


def test_schema_generated_bodies_with_hostile_json_signed_never_500(harness, amqp_url):
    client, tap = harness

    @FUZZ
    @given(CALLBACK.as_strategy(), HOSTILE)
    def check(case, hostile):
        body = with_hostile_field(body_of(case), hostile)
        response = client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)})
        assert response.status_code == 400, (response.status_code, response.data[:300])
        assert response.json["reason"]

    check()
    assert drain(amqp_url, tap, timeout=0.3) == []


@FUZZ
@given(st.binary(max_size=4096) | st.text(max_size=2048).map(str.encode) | HOSTILE)
@example(b"[" * 100_000 + b"]" * 100_000)
@example(b'{"destination": "U", "events": [], "n": ' + b"1" * 4301 + b"}")
def test_arbitrary_bytes_never_500(harness, raw):
    client, _ = harness
    assert client.post("/callback", data=raw, headers={"X-Line-Signature": sign(raw)}).status_code in (200, 400)
    assert client.post("/callback", data=raw).status_code == 400

