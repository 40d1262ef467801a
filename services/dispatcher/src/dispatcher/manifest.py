"""dispatcher as the platform sees it."""

from __future__ import annotations

from cityline_common.manifest import Process, ServiceManifest, Subscription

from dispatcher.adapters.orm import TEST_RECIPIENT_LINE_USER_ID, metadata, plumbing
from dispatcher.contracts import DeliveryStatusChanged, SendJobQueued

SEND_JOBS_QUEUE = "dispatcher.send-jobs"

MANIFEST = ServiceManifest(
    name="dispatcher",
    schema="dispatcher",
    metadata=metadata,
    plumbing=plumbing,
    migrations="dispatcher:migrations",
    description="Deliveries, approvals, schedules, rate-limited multicast send jobs, statistics.",
    processes=(
        Process("dispatcher", "web", port=8004, label="配信",
                app="dispatcher.entrypoints.flask_app:create_app()"),
        # Sending runs in its own processes, queue and database pool: a million-recipient send does not
        # take the web's workers or connections (「特定機能の利用増加に伴う影響を限定」).
        Process("dispatcher-sender", "worker", ("dispatcher-sender",), port=8014, label="配信の送信"),
        Process("dispatcher-scheduler", "worker", ("dispatcher-scheduler",), port=8024, label="予約配信"),
    ),
    subscriptions=(
        # One active consumer at a time (the others wait as hot standbys): LINE's multicast limit is per
        # channel, so one process keeps the whole channel's budget and runs the jobs concurrently inside.
        Subscription(SEND_JOBS_QUEUE, handles=(SendJobQueued,), single_active_consumer=True, delivery_limit=50),
    ),
    publishes=(SendJobQueued, DeliveryStatusChanged),
    encrypted_columns=(TEST_RECIPIENT_LINE_USER_ID,),
)
