"""segment-service as the platform sees it: schema, processes, the queue it consumes, what it publishes."""

from __future__ import annotations

from cityline_common.line_events import LineWebhookEvent
from cityline_common.manifest import Process, ServiceManifest, Subscription

from segment_service.adapters.orm import DISPLAY_NAME, LINE_USER_ID, metadata, plumbing
from segment_service.contracts import (
    PreferencesChanged,
    ResidentFollowed,
    ResidentUnfollowed,
    TaxonomyKeysRemapped,
    TaxonomyPublished,
)

LINE_EVENTS_QUEUE = "segment.line-events"

MANIFEST = ServiceManifest(
    name="segment",
    schema="segment",
    metadata=metadata,
    plumbing=plumbing,
    migrations="segment_service:migrations",
    description="Residents (friends), their 受信設定 preferences, the taxonomy and segments.",
    processes=(
        Process("segment-service", "web", port=8002, label="受信設定・セグメント",
                app="segment_service.entrypoints.flask_app:create_app()"),
        Process("segment-consumer", "worker", ("segment-service-consumer",), port=8012,
                label="友だち登録・あいさつ・受信設定チャット"),
    ),
    subscriptions=(
        # Only the LINE events segment-service acts on: follow and unfollow (residents, the greeting),
        # message and postback (the 受信設定 chat: 「受信設定」/「設定」 and its taps).
        Subscription(LINE_EVENTS_QUEUE, handles=(LineWebhookEvent,),
                     routing_keys=("line.event.follow", "line.event.unfollow", "line.event.message",
                                   "line.event.postback")),
    ),
    publishes=(ResidentFollowed, ResidentUnfollowed, TaxonomyPublished, PreferencesChanged, TaxonomyKeysRemapped),
    encrypted_columns=(LINE_USER_ID, DISPLAY_NAME),
)
