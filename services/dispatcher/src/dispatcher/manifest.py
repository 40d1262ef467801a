"""dispatcher as the platform sees it."""

from __future__ import annotations

from cityline_common.manifest import Process, ServiceManifest

from dispatcher.adapters.orm import metadata, plumbing

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
    ),
)
