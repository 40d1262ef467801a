"""richmenu-service as the platform sees it."""

from __future__ import annotations

from cityline_common.manifest import Process, ServiceManifest

from richmenu_service.adapters.orm import metadata, plumbing

MANIFEST = ServiceManifest(
    name="richmenu",
    schema="richmenu",
    metadata=metadata,
    plumbing=plumbing,
    migrations="richmenu_service:migrations",
    description="Rich menus: definitions, images, aliases (tabs), assignment rules, disaster mode.",
    processes=(
        Process("richmenu-service", "web", port=8003, label="リッチメニュー",
                app="richmenu_service.entrypoints.flask_app:create_app()"),
    ),
)
