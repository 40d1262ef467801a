"""richmenu-service as the platform sees it."""

from __future__ import annotations

from cityline_common.manifest import Process, ServiceManifest, Subscription
from segment_service.contracts import PreferencesChanged, ResidentFollowed

from richmenu_service.adapters.orm import RESIDENT_LINE_USER_ID, metadata, plumbing
from richmenu_service.contracts import DisasterModeSwitched, MenuPublished, MenusSwitched, SwitchDisasterMode

RESIDENTS_QUEUE = "richmenu.residents"

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
        Process("richmenu-consumer", "worker", ("richmenu-consumer",), port=8013, label="リッチメニューの切り替え"),
        # Mass changes run in their own process: a million residents switching does not take the web's workers.
        # It also reconciles LINE with what we published, hourly (menus changed by hand in LINE's console).
        Process("richmenu-worker", "worker", ("richmenu-worker",), port=8023, label="リッチメニューの一括切り替え"),
    ),
    subscriptions=(
        Subscription(RESIDENTS_QUEUE, handles=(ResidentFollowed, PreferencesChanged, SwitchDisasterMode)),
    ),
    publishes=(DisasterModeSwitched, MenuPublished, MenusSwitched),
    encrypted_columns=(RESIDENT_LINE_USER_ID,),
)
