"""POST /callback against the real broker and database."""

import io
import json
import subprocess
import threading
import time
import uuid
from datetime import timedelta

import pytest
from cityline_common.amqp import ConfirmingPublisher
from cityline_common.amqp.topology import LINE_EVENTS
from cityline_common.relay import OutboxRelay
from cityline_common.settings import load_settings
from ingress_webhook.adapters.orm import plumbing, webhook_events_seen
from ingress_webhook.bootstrap import bootstrap
from ingress_webhook.config import Settings
from ingress_webhook.entrypoints.flask_app import create_app
from ingress_webhook.entrypoints.housekeeping import sweep
from sqlalchemy import func, select, text

from testsupport import drain, opened_line_event, sign_webhook, tap_queue

pytestmark = pytest.mark.integration
SECRET = b"8c570fa6dd201bb328f1c1eac23a96d8"
NO_BROKER = "amqp://guest:guest@127.0.0.1:1/%2F"


sign = sign_webhook


@pytest.fixture
def tap(amqp_url):
    """A queue that sees everything published to line.events."""
    with tap_queue(amqp_url, LINE_EVENTS) as name:
        yield name


def make_service(**env_overrides):
    settings = load_settings(Settings, **env_overrides)
    publisher = ConfirmingPublisher(settings.amqp_url)
    publisher.start(wait=2.0 if settings.amqp_url != NO_BROKER else 0.2)
    return bootstrap(settings, publisher)


@pytest.fixture
def service(service_env):
    service = make_service()
    yield service
    service.close()


@pytest.fixture
def client(service):
    return create_app(service).test_client()


def webhook(*events):
    return json.dumps({"destination": "U" + "f" * 32, "events": list(events)}, ensure_ascii=False).encode()


def event(kind, **extra):
    return {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
            "webhookEventId": uuid.uuid4().hex[:26], "deliveryContext": {"isRedelivery": False},
            "source": {"type": "user", "userId": "U" + "2" * 32},
            **extra}


def post(client, body, **headers):
    return client.post("/callback", data=body, headers={"X-Line-Signature": sign(body),
                                                        "Content-Type": "application/json", **headers})


def test_signed_events_are_published_before_200(client, tap, amqp_url):
    events = [event("follow", follow={"isUnblocked": False}), event("message", message={"type": "text", "id": "1",
              "text": "こんにちは", "quoteToken": "q"}), event("somethingNew", whatever=1)]
    assert post(client, webhook(*events)).status_code == 200
    got = drain(amqp_url, tap)
    assert [(m.routing_key, p.message_id) for m, p, _ in got] == [
        (f"line.event.{e['type']}", e["webhookEventId"]) for e in events
    ]
    assert [opened_line_event(b) for _, _, b in got] == events
    assert all(p.delivery_mode == 2 and "traceparent" in p.headers for _, p, _ in got)


def test_redeliveries_and_duplicates_collapse_to_one_message(client, tap, amqp_url):
    first = event("follow")
    redelivered = {**first, "deliveryContext": {"isRedelivery": True}}
    other = event("unfollow")
    assert post(client, webhook(first)).status_code == 200
    assert post(client, webhook(redelivered)).status_code == 200
    assert post(client, webhook(first, other, other)).status_code == 200  # a repeat inside one request too
    got = drain(amqp_url, tap)
    assert sorted(p.message_id for _, p, _ in got) == sorted([first["webhookEventId"], other["webhookEventId"]])


def test_concurrent_duplicates_publish_once(client, service, tap, amqp_url):
    same = webhook(event("postback", postback={"data": "a=1"}))
    results = []
    threads = [threading.Thread(target=lambda: results.append(post(client, same).status_code)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 8
    assert len(drain(amqp_url, tap)) == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 400), ({"X-Line-Signature": "AAAA"}, 401), ({"X-Line-Signature": ""}, 401)],
)
def test_unsigned_or_badly_signed_requests_publish_nothing(client, tap, amqp_url, headers, status):
    response = client.post("/callback", data=webhook(event("follow")), headers=headers)
    assert response.status_code == status
    assert "reason" not in response.json
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_tampered_body_and_duplicate_signature_headers(client, tap, amqp_url):
    body = webhook(event("follow"))
    tampered = body.replace(b"follow", b"unfollow")
    assert client.post("/callback", data=tampered, headers={"X-Line-Signature": sign(body)}).status_code == 401
    both = [("X-Line-Signature", sign(body)), ("x-line-signature", sign(body))]
    assert client.post("/callback", data=body, headers=both).status_code == 401
    any_case = client.post("/callback", data=body, headers={"x-LINE-signature": sign(body)})
    assert any_case.status_code == 200  # header names are case-insensitive
    assert len(drain(amqp_url, tap)) == 1


def test_signed_garbage_is_400_with_a_reason(client, tap, amqp_url):
    body = b'{"destination": "U1", "events": [{"type": "follow"}]}'
    response = post(client, body)
    assert response.status_code == 400 and "webhookEventId" in response.json["reason"]
    assert drain(amqp_url, tap, timeout=0.3) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b'{"destination": "U1", "events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nested deeper"),
     (b'{"destination": "U1", "events": [], "n": ' + b"1" * 4301 + b"}", "number too long")],
)
def test_signed_bodies_that_break_pythons_json_parser_are_400_not_500(client, tap, amqp_url, body, reason):
    response = post(client, body)
    assert response.status_code == 400 and reason in response.json["reason"]
    assert drain(amqp_url, tap, timeout=0.3) == []


def _sample(client, name):
    for line in client.get("/metrics").data.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_replays_older_than_the_window_are_refused_and_the_rest_is_taken(client, service, tap, amqp_url):
    window = timedelta(hours=service.settings.dedupe_window_hours)
    stale = event("follow", timestamp=int((time.time() - (window + timedelta(minutes=1)).total_seconds()) * 1000))
    fresh = event("unfollow")
    refused_before = _sample(client, "cityline_webhook_events_too_old_total")

    assert post(client, webhook(stale, fresh)).status_code == 200  # LINE must not retry
    assert post(client, webhook(stale)).status_code == 200  # a request of nothing but replays, too

    assert [p.message_id for _, p, _ in drain(amqp_url, tap)] == [fresh["webhookEventId"]]
    assert _sample(client, "cityline_webhook_events_too_old_total") == refused_before + 2
    with service.engine.connect() as connection:
        claimed = set(connection.execute(select(webhook_events_seen.c.webhook_event_id).where(
            webhook_events_seen.c.webhook_event_id.in_([stale["webhookEventId"], fresh["webhookEventId"]]))).scalars())
    assert claimed == {fresh["webhookEventId"]}  # the replay is not even claimed


def test_signed_event_without_a_timestamp_is_400_with_the_reason(client, tap, amqp_url):
    undated = event("follow")
    del undated["timestamp"]
    response = post(client, webhook(undated))
    assert response.status_code == 400 and "timestamp" in response.json["reason"]
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_oversized_body_is_413_even_when_chunked(client, tap, amqp_url):
    body = webhook(event("message", padding="x" * 2_000_000))
    assert post(client, body).status_code == 413

    # A chunked body has no Content-Length; the server (gunicorn) marks the stream as terminated and
    # the limit applies while reading.
    chunked = client.post("/callback", input_stream=io.BytesIO(body),
                          headers={"X-Line-Signature": sign(body), "Transfer-Encoding": "chunked"},
                          environ_overrides={"wsgi.input_terminated": True})
    assert chunked.status_code == 413
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_verify_ping_is_200_and_publishes_nothing(client, tap, amqp_url):
    body = b'{"destination":"U8e742f61d673b39c7fff3cecb7536ef0","events":[]}'
    assert client.post("/callback", data=body, headers={"X-Line-Signature": sign(body)}).status_code == 200
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_broker_down_without_spool_is_503_and_the_redelivery_is_taken_later(service_env, tap, amqp_url):
    down = make_service(amqp_url=NO_BROKER, webhook_spool="off")
    body = webhook(event("follow"))
    try:
        client = create_app(down).test_client()
        assert post(client, body).status_code == 503
        assert client.get("/readyz").status_code == 503
    finally:
        down.close()
    up = make_service()
    try:
        # The failed attempt did not keep its claim: LINE's redelivery goes through.
        assert post(create_app(up).test_client(), body).status_code == 200
    finally:
        up.close()
    assert len(drain(amqp_url, tap)) == 1


def test_broker_down_with_spool_is_200_and_the_relay_delivers_later(service_env, tap, amqp_url):
    down = make_service(amqp_url=NO_BROKER)
    events = [event("follow"), event("message", message={"type": "text", "id": "9", "text": "避難所は？"})]
    try:
        client = create_app(down).test_client()
        assert post(client, webhook(*events)).status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["checks"]["broker"].startswith("unavailable")
        with down.engine.connect() as connection:
            spooled = connection.execute(select(func.count()).select_from(plumbing.outbox)
                                         .where(plumbing.outbox.c.published_at.is_(None))).scalar_one()
        assert spooled == 2
    finally:
        down.close()
    assert drain(amqp_url, tap, timeout=0.3) == []
    up = make_service()
    try:
        while OutboxRelay(up.engine, plumbing, up.publisher).run_once():
            pass
    finally:
        up.close()
    got = drain(amqp_url, tap)
    assert [p.message_id for _, p, _ in got] == [e["webhookEventId"] for e in events]
    assert [opened_line_event(b) for _, _, b in got] == events
    assert got[0][0].routing_key == "line.event.follow"


def test_database_down_still_publishes(service_env, tap, amqp_url):
    no_db = make_service(database_url="postgresql://nobody@127.0.0.1:1/none")
    try:
        client = create_app(no_db).test_client()
        assert post(client, webhook(event("follow"))).status_code == 200
        ready = client.get("/readyz")  # it still takes webhooks, so it stays in service
        assert ready.status_code == 200 and ready.json["checks"]["database"].startswith("unavailable")
    finally:
        no_db.close()
    assert len(drain(amqp_url, tap)) == 1


def test_broker_and_database_down_is_503_and_not_ready(service_env, tap, amqp_url):
    nothing = make_service(database_url="postgresql://nobody@127.0.0.1:1/none", amqp_url=NO_BROKER)
    try:
        client = create_app(nothing).test_client()
        assert post(client, webhook(event("follow"))).status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert {name: state.split(":")[0] for name, state in ready.json["checks"].items()} == {
            "accepting": "unavailable", "database": "unavailable", "broker": "unavailable"}
    finally:
        nothing.close()
    assert drain(amqp_url, tap, timeout=0.3) == []


def test_metrics_count_outcomes(client):
    post(client, webhook(event("follow")))
    client.post("/callback", data=b"{}", headers={"X-Line-Signature": "bad"})
    text = client.get("/metrics").data.decode()
    assert 'cityline_webhook_requests_total{outcome="accepted"}' in text
    assert 'cityline_webhook_signature_failures_total{reason="invalid"}' in text
    assert 'cityline_webhook_events_total{type="follow"}' in text
    assert "cityline_webhook_publish_duration_seconds_bucket" in text


def test_housekeeping_forgets_only_ids_outside_the_window(service):
    from datetime import timedelta

    old, recent = f"old-{uuid.uuid4().hex[:8]}", f"new-{uuid.uuid4().hex[:8]}"
    with service.engine.begin() as connection:
        connection.execute(webhook_events_seen.insert().values(webhook_event_id=old,
                                                               received_at=func.now() - timedelta(days=4)))
        connection.execute(webhook_events_seen.insert().values(webhook_event_id=recent))
    assert sweep(service.bus.uow_factory, timedelta(hours=72)) >= 1
    with service.engine.connect() as connection:
        left = set(connection.execute(select(webhook_events_seen.c.webhook_event_id)).scalars())
    assert recent in left and old not in left


@pytest.fixture
def memory_alarm():
    """RabbitMQ under a memory alarm: it blocks publishers and withholds every confirm."""

    def alarm(action: str) -> None:
        term = ("set_alarm({{resource_limit, memory, node()}, []})" if action == "set"
                else "clear_alarm({resource_limit, memory, node()})")
        subprocess.run(["rabbitmqctl", "-q", "eval", f"rabbit_alarm:{term}."], check=True, timeout=60,
                       capture_output=True)

    alarm("set")
    try:
        yield
    finally:
        alarm("clear")


def test_withheld_confirms_cost_one_deadline_per_request_not_one_per_event(service, memory_alarm):
    # Five events, the broker confirming none: one shared deadline (PUBLISH_TIMEOUT_SECONDS, 1 s)
    # then the spool, inside LINE's 2-second budget (one wait per event took 5 s).
    events = [event("follow") for _ in range(5)]
    client = create_app(service).test_client()
    started = time.monotonic()
    response = post(client, webhook(*events))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 1.5, f"answered after {elapsed:.2f}s"
    with service.engine.connect() as connection:
        spooled = connection.execute(text("SELECT count(*) FROM ingress.outbox WHERE message_id = ANY(:ids)"),
                                     {"ids": [e["webhookEventId"] for e in events]}).scalar_one()
    assert spooled == 5
