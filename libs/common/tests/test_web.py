"""The Flask plumbing every service shares: bounded metric labels and access logs an auditor can use."""

import json
import logging

from cityline_common.logging import JsonFormatter
from cityline_common.metrics import HTTP_REQUESTS
from cityline_common.web import create_base_app
from flask import Response


def app_with_a_route(trusted_proxies: int = 0):
    app = create_base_app("web-test", {}, trusted_proxies=trusted_proxies)

    @app.post("/callback")
    def callback() -> Response:
        return Response("ok")

    return app


def series() -> int:
    return sum(len(metric.samples) for metric in HTTP_REQUESTS.collect())


def test_made_up_methods_and_paths_mint_no_new_metric_series():
    client = app_with_a_route().test_client()
    client.open("/callback", method="FOOBAR0")  # the first one creates the "other" series
    client.get("/no/such/path/0")
    before = series()
    for number in range(1, 1001):
        assert client.open("/callback", method=f"FOOBAR{number}").status_code == 405
        client.get(f"/no/such/path/{number}")
    assert series() == before
    labels = {sample.labels["method"] for metric in HTTP_REQUESTS.collect() for sample in metric.samples
              if sample.labels.get("service") == "web-test"}
    assert labels <= {"GET", "POST", "other"}


def test_access_lines_carry_the_client_behind_a_trusted_proxy_and_never_a_token(caplog):
    client = app_with_a_route(trusted_proxies=1).test_client()
    with caplog.at_level(logging.INFO, logger="cityline.access"):
        response = client.post(
            "/callback?access_token=secret-token-123", data=b"{}",
            headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "User-Agent": "LineBotWebhook/2.0",
                     "Authorization": "Bearer secret-token-456", "X-Request-Id": "req-0123456789"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
    [record] = [r for r in caplog.records if r.name == "cityline.access"]
    entry = json.loads(JsonFormatter("web-test").format(record))
    # One proxy is trusted: the client is the address it saw, not what the client claimed before it.
    assert entry["client"] == "198.51.100.7"
    assert (entry["request_id"], response.headers["X-Request-Id"]) == ("req-0123456789", "req-0123456789")
    assert (entry["method"], entry["route"], entry["status"]) == ("POST", "/callback", 200)
    assert entry["user_agent"] == "LineBotWebhook/2.0" and entry["duration_ms"] >= 0
    line = json.dumps(entry)
    assert "secret-token" not in line and "access_token" not in line


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored_and_a_bad_request_id_replaced(caplog):
    client = app_with_a_route().test_client()
    with caplog.at_level(logging.INFO, logger="cityline.access"):
        response = client.post("/callback", headers={"X-Forwarded-For": "1.2.3.4", "X-Request-Id": "bad id; drop"},
                               environ_base={"REMOTE_ADDR": "192.0.2.10"})
    [record] = [r for r in caplog.records if r.name == "cityline.access"]
    assert record.client == "192.0.2.10"
    assert record.request_id == response.headers["X-Request-Id"] != "bad id; drop"
