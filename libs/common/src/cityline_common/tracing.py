"""OpenTelemetry set-up and W3C trace-context propagation through AMQP headers.

The TracerProvider starts a background export thread, which does not survive fork: gunicorn
workers call :func:`setup_tracing` from ``post_fork`` (see :mod:`cityline_common.gunicorn_hooks`),
single-process consumers call it at start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

DEFAULT_SAMPLE_RATIO = 0.1

_configured = False


def setup_tracing(service_name: str) -> None:
    """Install the SDK provider once per process; export over OTLP/HTTP when an endpoint is set."""
    global _configured
    if _configured:
        return
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    # Default: record 10 % of new traces (and whatever an upstream caller decided). Unsampled spans
    # still carry a valid context, so traceparent keeps flowing through AMQP and the outboxes.
    # OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG override it, as the OpenTelemetry spec says.
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else ParentBased(TraceIdRatioBased(DEFAULT_SAMPLE_RATIO))
    provider = TracerProvider(resource=resource, sampler=sampler)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers(headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return headers carrying the current trace context (traceparent/tracestate)."""
    carrier: dict[str, Any] = dict(headers or {})
    propagate.inject(carrier)
    return carrier


@contextmanager
def continued_trace(headers: Mapping[str, Any] | None) -> Iterator[None]:
    """Make the trace context stored in ``headers`` current for the duration of the block."""
    carrier = {key: value for key, value in (headers or {}).items() if isinstance(value, str)}
    token = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)
