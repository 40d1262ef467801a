"""ingress-webhook's own metrics (the shared HTTP and publish metrics come from libs/common).

Labelled children are bound once here: the hot path increments them without a label look-up."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from cityline_common.metrics import NAMESPACE
from prometheus_client import Counter, Histogram

from ingress_webhook.domain.commands import Outcome
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
EVENTS_TOO_OLD = Counter(
    "webhook_events_too_old_total",
    "Signed events refused because their timestamp is older than the de-duplication window (replays).",
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
    "webhook_publish_duration_seconds",
    "Time from the first publish of a batch of webhook requests (group commit) to the broker's last confirm.",
    namespace=NAMESPACE, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
)
BATCH_REQUESTS = Histogram(
    "webhook_batch_requests", "Webhook requests taken together in one transaction (group commit).",
    namespace=NAMESPACE, buckets=(1, 2, 4, 8, 16, 32, 64),
)

# Outcomes decided before the bus (the entrypoint's): a body over the limit, a body too slow to arrive.
ENTRYPOINT_OUTCOMES = ("too_large", "body_timeout")
REQUESTS_BY_OUTCOME = {outcome: WEBHOOK_REQUESTS.labels(outcome.value) for outcome in Outcome}
REQUESTS_AT_ENTRYPOINT = {outcome: WEBHOOK_REQUESTS.labels(outcome) for outcome in ENTRYPOINT_OUTCOMES}
EVENTS_BY_TYPE = {kind: WEBHOOK_EVENTS.labels(kind) for kind in (*KNOWN_EVENT_TYPES, "other")}
for _reason in ("missing", "invalid"):
    SIGNATURE_FAILURES.labels(_reason)


def count_events(metric_types: Iterable[str]) -> None:
    """One increment per event type, however many events of that type."""
    for kind, count in Tally(metric_types).items():
        EVENTS_BY_TYPE[kind].inc(count)
