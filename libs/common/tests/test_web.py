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


def recorded_spans():
    """Spans finished from here on, whatever provider the process set up first (an SDK one: the
    app factory installs it)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[attr-defined]
    return exporter


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def test_each_request_is_a_server_span_continuing_the_callers_trace_and_current_in_the_view():
    from opentelemetry import trace

    app = create_base_app("web-test", {}, trusted_proxies=0)
    seen: dict[str, object] = {}

    @app.post("/items/<int:number>")
    def item(number: int) -> Response:
        seen["span"] = trace.get_current_span()
        return Response("ok")

    @app.get("/broken")
    def broken() -> Response:
        raise RuntimeError("boom")

    exporter = recorded_spans()
    client = app.test_client()
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}  # sampled upstream: recorded here too
    assert client.post("/items/7", headers=headers).status_code == 200
    assert client.get("/broken", headers=headers).status_code == 500
    client.get("/healthz", headers=headers)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"POST /items/<int:number>", "GET /broken"}  # health checks make no spans
    span = spans["POST /items/<int:number>"]
    assert span.kind == trace.SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == TRACE_ID and format(span.parent.span_id, "016x") == PARENT_ID
    assert span.attributes["http.route"] == "/items/<int:number>"  # the template, never the values
    assert span.attributes["http.response.status_code"] == 200
    assert seen["span"].get_span_context().span_id == span.context.span_id  # type: ignore[attr-defined]
    assert spans["GET /broken"].status.status_code == trace.StatusCode.ERROR
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing leaks past the request
