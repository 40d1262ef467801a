"""No personal data in clear outside encrypted columns.

Residents follow, write to the account and block it through the real processes: one ingress
publishing to RabbitMQ, one whose broker is unreachable so every event waits in its spool until the
relay drains it, the segment consumer, the relay, and a poison event that is dead-lettered. Then
every table of every schema is scanned for LINE user ids (``U`` + 32 hex digits) and for the words
the residents wrote: none may be found. The processes' log lines are read the same way.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import requests
from cityline_common.amqp.topology import declare_with_url
from cityline_common.line_ids import LINE_USER_ID
from sqlalchemy import create_engine, text

from testsupport import TEST_KEYS, drain, sign_webhook, wait_until
from testsupport.processes import RunningProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def event(kind: str, user: str, **extra: object) -> dict[str, object]:
    return {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
            "webhookEventId": uuid.uuid4().hex[:26].upper(), "deliveryContext": {"isRedelivery": False},
            "source": {"type": "user", "userId": user}, "replyToken": uuid.uuid4().hex, **extra}


def post(base_url: str, *events: dict[str, object]) -> None:
    body = json.dumps({"destination": "U" + uuid.uuid4().hex, "events": list(events)}).encode()
    response = requests.post(f"{base_url}/callback", data=body, timeout=10,
                             headers={"X-Line-Signature": sign_webhook(body), "Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def scan(database_url: str, needles: list[str]) -> list[str]:
    """Every row of every table of every schema, as text, searched for LINE user ids and ``needles``."""
    engine = create_engine(database_url)
    found: list[str] = []
    try:
        with engine.connect() as connection:
            tables = connection.execute(text(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            )).all()
            assert len(tables) >= 8  # every service's schema is there
            for schema, table in tables:
                for (row,) in connection.execute(text(f'SELECT t::text FROM "{schema}"."{table}" t')):
                    if LINE_USER_ID.search(row) or any(needle in row for needle in needles):
                        found.append(f"{schema}.{table}: {row[:200]}")
    finally:
        engine.dispose()
    return found


def test_no_line_user_id_or_resident_text_is_stored_in_clear(migrated_database_url, amqp_url):
    declare_with_url(amqp_url)
    base = {"DATABASE_URL": migrated_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS}
    live, spooling = free_port(), free_port()
    unreachable_broker = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    processes = [
        RunningProcess("ingress", ["cityline-serve", "ingress-webhook"],
                       {**base, "INGRESS_WEBHOOK_PORT": str(live)}, f"http://127.0.0.1:{live}/readyz"),
        RunningProcess("ingress-spooling", ["cityline-serve", "ingress-webhook"],
                       {**base, "INGRESS_WEBHOOK_PORT": str(spooling), "AMQP_URL": unreachable_broker},
                       f"http://127.0.0.1:{spooling}/readyz"),
        RunningProcess("segment-consumer", ["segment-service-consumer"], base),
    ]
    relay = RunningProcess("relay", ["cityline-outbox-relay"], base)
    hanako, taro, jiro = ("U" + uuid.uuid4().hex for _ in range(3))
    words = [f"伊丹の{uuid.uuid4().hex[:8]}さんへの個人的な相談", f"private note {uuid.uuid4().hex[:8]}"]
    try:
        for process in processes:
            process.start()
        post(f"http://127.0.0.1:{live}", event("follow", hanako),
             event("message", hanako, message={"type": "text", "id": "1", "text": words[0], "quoteToken": "q"}))
        # Through the spool: the broker of this ingress is away; the relay publishes them later.
        post(f"http://127.0.0.1:{spooling}", event("follow", taro),
             event("message", taro, message={"type": "text", "id": "2", "text": words[1], "quoteToken": "q"}),
             event("follow", jiro), event("unfollow", jiro))
        # A follow segment-service cannot take (no valid user id): dead-lettered with its reason.
        post(f"http://127.0.0.1:{live}", event("follow", "U-not-an-id-" + words[1]))
        relay.start()
        dead = wait_until(lambda: drain(amqp_url, "segment.line-events.dlq", timeout=0.3), timeout=120,
                          message="the poison follow dead-lettered")
        assert "valid source.userId" in dead[0][1].headers["x-error"]

        engine = create_engine(migrated_database_url)

        def settled() -> bool:
            with engine.connect() as connection:
                spooled, spool_left = connection.execute(text(
                    "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM ingress.outbox")).one()
                residents = connection.execute(text("SELECT count(*) FROM segment.residents")).scalar_one()
                events = connection.execute(text(
                    "SELECT count(*) FROM segment.outbox WHERE published_at IS NOT NULL")).scalar_one()
            return spooled >= 4 and spool_left == 0 and residents >= 3 and events >= 4

        wait_until(settled, timeout=120, message="spool drained, three residents recorded and announced")
        engine.dispose()
        time.sleep(1)  # let the relay mark its last batch
    finally:
        relay.stop()
        for process in processes:
            process.stop()

    assert scan(migrated_database_url, words) == []
    for process in [*processes, relay]:
        output = process.output()
        for secret in (hanako, taro, jiro, *words):
            assert secret not in output, f"{process.name} logged personal data"
    assert not re.search(r"U[0-9a-f]{32}", "".join(process.output() for process in [*processes, relay]))
