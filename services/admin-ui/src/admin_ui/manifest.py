"""admin-ui as the platform sees it: the staff console (管理画面)."""

from __future__ import annotations

from cityline_common.manifest import Process, ServiceManifest

from admin_ui.adapters import audit as _audit_tables  # noqa: F401  (defines admin.audit_log on metadata)
from admin_ui.adapters.orm import TOTP_SECRET, metadata, plumbing

MANIFEST = ServiceManifest(
    name="admin",
    schema="admin",
    metadata=metadata,
    plumbing=plumbing,
    migrations="admin_ui:migrations",
    description="The staff console (管理画面): accounts, roles, approvals, audit log.",
    encrypted_columns=(TOTP_SECRET,),
    processes=(
        Process("admin-ui", "web", port=8000, label="管理画面", app="admin_ui.entrypoints.flask_app:create_app()"),
        # Ends sessions past their timeouts and forgets old sign-in throttles: a loop locally, a CronJob
        # in a cluster.
        Process("admin-housekeeping", "cron", ("admin-ui-housekeeping",), schedule="*/15 * * * *"),
    ),
)
