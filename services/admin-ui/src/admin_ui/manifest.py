"""admin-ui as the platform sees it: the staff console (管理画面)."""

from __future__ import annotations

from cityline_common.manifest import Process, ServiceManifest, Subscription
from richmenu_service.contracts import DisasterModeSwitched

from admin_ui.adapters import audit as _audit_tables  # noqa: F401  (defines admin.audit_log on metadata)
from admin_ui.adapters.orm import TOTP_SECRET, metadata, plumbing

CITY_EVENTS_QUEUE = "admin.city-events"

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
        # What other systems did without the console (災害時モード from the broker) goes into the 操作ログ too.
        Process("admin-audit-consumer", "worker", ("admin-ui-audit-consumer",), port=8020, label="操作ログの記録"),
    ),
    subscriptions=(Subscription(CITY_EVENTS_QUEUE, handles=(DisasterModeSwitched,)),),
)
