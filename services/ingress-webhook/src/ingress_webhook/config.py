from __future__ import annotations

from typing import Literal

from cityline_common.settings import CommonSettings, CryptoSettings
from pydantic import Field, SecretStr


class Settings(CommonSettings, CryptoSettings):
    line_channel_secret: SecretStr = Field(description="Messaging API channel secret (webhook signatures).")
    webhook_path: str = Field(default="/callback", pattern=r"^/[A-Za-z0-9/_-]*$")
    webhook_max_body_bytes: int = Field(default=1_048_576, ge=1024, le=16 * 1_048_576)
    publish_timeout_seconds: float = Field(
        default=1.0, gt=0, le=1.5, description="Confirm wait; LINE gives the whole request 2 s."
    )
    webhook_spool: Literal["postgres", "off"] = Field(
        default="postgres",
        description="postgres: events the broker does not confirm are kept in ingress's outbox and answered "
        "200; off: the request is answered 503 and LINE's redelivery (if enabled) retries it.",
    )
    dedupe_window_hours: int = Field(default=72, ge=1, le=24 * 30)
    database_pool_size: int = Field(default=16, ge=1, le=200)
