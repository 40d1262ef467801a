from __future__ import annotations

from typing import Literal

from cityline_common.settings import CommonSettings, CryptoSettings
from pydantic import Field, SecretStr


class Settings(CommonSettings, CryptoSettings):
    line_channel_secret: SecretStr = Field(description="Messaging API channel secret (webhook signatures).")
    webhook_path: str = Field(default="/callback", pattern=r"^/[A-Za-z0-9/_-]*$")
    webhook_max_body_bytes: int = Field(default=1_048_576, ge=1024, le=16 * 1_048_576)
    webhook_body_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60,
        description="Time a client has to send the whole body once its headers are in; a slower one gets 408 "
        "and its worker thread back (the ingress controller should buffer bodies before they reach the pod).",
    )
    publish_timeout_seconds: float = Field(
        default=1.0, gt=0, le=1.5, description="Confirm wait; LINE gives the whole request 2 s."
    )
    webhook_spool: Literal["postgres", "off"] = Field(
        default="postgres",
        description="postgres: events the broker does not confirm are kept in ingress's outbox and answered "
        "200; off: the request is answered 503 and LINE's redelivery (if enabled) retries it.",
    )
    dedupe_window_hours: int = Field(
        default=72, ge=1, le=24 * 30,
        description="How long webhook event ids are remembered; older events are refused as replays.",
    )
    webhook_batch_wait_ms: float = Field(
        default=0.0, ge=0, le=50,
        description="How long a batch of concurrent webhook requests (group commit) waits for company; 0: it "
        "takes whatever is waiting when the previous batch is done.",
    )
    webhook_batch_max_events: int = Field(default=500, ge=1, le=5000)
    webhook_batch_concurrency: int = Field(
        default=1, ge=1, le=16,
        description="Batches of webhook requests one worker process takes at once (each waits for its own "
        "confirms, so a second batch gathers and goes while the first waits).",
    )
    database_pool_size: int = Field(default=16, ge=1, le=200)
