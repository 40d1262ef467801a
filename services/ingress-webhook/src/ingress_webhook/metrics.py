"""ingress-webhook's own metrics (the shared HTTP and publish metrics come from libs/common)."""

from __future__ import annotations

from cityline_common.metrics import NAMESPACE
from prometheus_client import Counter, Histogram

from ingress_webhook.domain.webhook import KNOWN_EVENT_TYPES

WEBHOOK_REQUESTS = Counter(
    "webhook_requests_total", "Webhook requests by outcome.", ["outcome"], namespace=NAMESPACE
)
WEBHOOK_EVENTS = Counter(
    "webhook_events_total", "Webhook events taken, by LINE event type (unknown types as 'other').",
    ["type"], namespace=NAMESPACE,
)
SIGNATURE_FAILURES = Counter(
    "webhook_signature_failures_total", "Requests refused for a missing or wrong X-Line-Signature.",
    ["reason"], namespace=NAMESPACE,
)
DUPLICATES_DROPPED = Counter(
    "webhook_duplicate_events_total", "Events dropped because their webhookEventId was already taken.",
    namespace=NAMESPACE,
)
EVENTS_SPOOLED = Counter(
    "webhook_events_spooled_total", "Events written to the durable spool because the broker did not confirm.",
    namespace=NAMESPACE,
)
DEDUPE_SKIPPED = Counter(
    "webhook_dedupe_unavailable_total", "Requests published without de-duplication (database unavailable).",
    namespace=NAMESPACE,
)
PUBLISH_DURATION = Histogram(
    "webhook_publish_duration_seconds", "Time from the first publish of a request to the broker's last confirm.",
    namespace=NAMESPACE, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
)

for _outcome in ("accepted", "duplicate", "spooled", "signature_missing", "signature_invalid", "invalid",
                 "too_large", "unavailable"):
    WEBHOOK_REQUESTS.labels(_outcome)
for _type in (*KNOWN_EVENT_TYPES, "other"):
    WEBHOOK_EVENTS.labels(_type)
for _reason in ("missing", "invalid"):
    SIGNATURE_FAILURES.labels(_reason)
