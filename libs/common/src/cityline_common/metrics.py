"""Prometheus metrics shared by every service (RED for HTTP, outcomes for AMQP and the outbox).

Names follow ``cityline_<what>_<unit>``; labels are low-cardinality (route templates, queue names,
outcomes), never ids. Under gunicorn the multiprocess collector is used when
``PROMETHEUS_MULTIPROC_DIR`` is set (the start script sets and wipes it, not Python).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

NAMESPACE = "cityline"

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests served, by route template and status code.",
    ["service", "method", "route", "code"], namespace=NAMESPACE,
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds", "HTTP request latency by route template.",
    ["service", "method", "route"], namespace=NAMESPACE,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
MESSAGES_CONSUMED = Counter(
    "messages_consumed_total", "AMQP deliveries handled, by queue and outcome.",
    ["queue", "outcome"], namespace=NAMESPACE,
)
MESSAGE_HANDLING = Histogram(
    "message_handling_duration_seconds", "Time to handle one AMQP delivery.",
    ["queue"], namespace=NAMESPACE,
)
DEPENDENCY_WAITS = Counter(
    "consumer_dependency_waits_total",
    "Times a consumer held a message and waited because a dependency (database, service) was unavailable.",
    ["queue"], namespace=NAMESPACE,
)
MESSAGES_PUBLISHED = Counter(
    "messages_published_total", "AMQP publishes, by exchange and broker outcome.",
    ["exchange", "outcome"], namespace=NAMESPACE,
)
OUTBOX_PENDING = Gauge(
    "outbox_pending", "Outbox rows not yet published, as last seen by a relay.",
    ["schema"], namespace=NAMESPACE, multiprocess_mode="max",
)
OUTBOX_OLDEST_PENDING = Gauge(
    "outbox_oldest_pending_created_timestamp_seconds",
    "Creation time of the oldest unpublished outbox row (0 when none).",
    ["schema"], namespace=NAMESPACE, multiprocess_mode="min",
)
OUTBOX_PUBLISHED = Counter(
    "outbox_publish_attempts_total", "Outbox rows the relay tried to publish, by outcome.",
    ["schema", "outcome"], namespace=NAMESPACE,
)
# Internal API requests refused: 401 by reason (a fixed set of short phrases, never token data),
# "forbidden" for a verified caller without the role a view requires (403).
INTERNAL_AUTH_REFUSALS = Counter(
    "internal_auth_refusals_total", "Requests to /internal/ refused, by service and reason.",
    ["service", "reason"], namespace=NAMESPACE,
)

# Queue depths as the outbox relay last saw them (passive declares every ~30 s): above all the
# dead-letter and unrouted queues, which drop their OLDEST message when full (drop-head), so their
# depth must alert well before their bound. Only live processes count: a dead relay's last look
# would otherwise linger in the multiprocess files.
QUEUE_MESSAGES = Gauge(
    "queue_messages", "Messages ready in a RabbitMQ queue, as last seen by the outbox relay.",
    ["queue"], namespace=NAMESPACE, multiprocess_mode="livemax",
)
QUEUE_CONSUMERS = Gauge(
    "queue_consumers", "Consumers attached to a RabbitMQ queue, as last seen by the outbox relay.",
    ["queue"], namespace=NAMESPACE, multiprocess_mode="livemax",
)

# Consume outcomes pre-initialised per queue by the consumer so dashboards see zeros, not gaps.
CONSUME_OUTCOMES = ("ack", "duplicate", "retry", "dead_letter")


def render_latest() -> tuple[bytes, str]:
    """Exposition for /metrics, multiprocess-aware."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
