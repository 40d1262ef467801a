"""ingress-webhook as the platform sees it: the only public endpoint for LINE."""

from __future__ import annotations

from cityline_common.line_events import LineWebhookEvent
from cityline_common.manifest import Process, ServiceManifest

from ingress_webhook.adapters.orm import metadata, plumbing

MANIFEST = ServiceManifest(
    name="ingress",
    schema="ingress",
    metadata=metadata,
    plumbing=plumbing,
    migrations="ingress_webhook:migrations",
    description="Verifies, de-duplicates and durably publishes LINE's webhook events.",
    processes=(
        # Threads let one worker wait on many broker confirms at once; confirms are batched by the broker.
        Process("ingress-webhook", "web", port=8001, label="LINE受信 (Webhook)",
                app="ingress_webhook.entrypoints.flask_app:create_app()", threads=16),
        # Trims the de-duplication record to its sliding window: a loop locally, a CronJob in a cluster.
        Process("ingress-housekeeping", "cron", ("ingress-webhook-housekeeping",), schedule="*/10 * * * *"),
    ),
    publishes=(LineWebhookEvent,),
)
