"""The processes gunicorn does not run — the outbox relay and the AMQP consumers — answer the same
/healthz, /readyz and /metrics as the web services, so Kubernetes probes them and Prometheus
scrapes them like any other pod."""

from __future__ import annotations

import pytest
import requests

from testsupport import TEST_KEYS, wait_until
from testsupport.processes import RunningProcess, free_port

pytestmark = pytest.mark.integration


def _env(database_url: str, amqp_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS}


def test_outbox_relay_reports_every_outbox_it_relays_and_its_backlog(migrated_database_url, amqp_url):
    port = free_port()
    relay = RunningProcess("relay-http", ["cityline-outbox-relay", "ingress", "segment", "--http-port", str(port)],
                           _env(migrated_database_url, amqp_url), f"http://127.0.0.1:{port}/readyz")
    relay.start()
    try:
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        assert ready == {"status": "ok", "checks": {"database.ingress": "ok", "database.segment": "ok", "broker": "ok"}}
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200

        def backlog_reported() -> str | None:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            return text if 'cityline_outbox_pending{schema="segment"}' in text else None

        metrics = wait_until(backlog_reported, message="the relay's backlog gauge")
        assert 'cityline_outbox_pending{schema="ingress"} 0.0' in metrics
    finally:
        relay.stop()


def test_consumer_is_not_ready_while_it_cannot_consume(migrated_database_url):
    port = free_port()
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    consumer = RunningProcess("segment-consumer-http", ["segment-service-consumer", "--http-port", str(port)],
                              _env(migrated_database_url, nowhere), f"http://127.0.0.1:{port}/healthz")
    consumer.start()
    try:
        answer = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert answer.status_code == 503
        assert answer.json()["checks"] == {"database": "ok", "consuming": "unavailable: RuntimeError"}
    finally:
        consumer.stop()


def test_consumer_is_ready_once_it_consumes(migrated_database_url, amqp_url):
    port = free_port()
    consumer = RunningProcess("segment-consumer-http", ["segment-service-consumer", "--http-port", str(port)],
                              _env(migrated_database_url, amqp_url), f"http://127.0.0.1:{port}/readyz")
    consumer.start()
    try:
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        assert ready == {"status": "ok", "checks": {"database": "ok", "consuming": "ok"}}
        assert "cityline_http_requests_total" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        consumer.stop()
