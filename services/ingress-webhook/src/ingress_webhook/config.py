from __future__ import annotations

from cityline_common.settings import CommonSettings
from pydantic import Field, SecretStr


class Settings(CommonSettings):
    line_channel_secret: SecretStr = Field(description="Messaging API channel secret (webhook signatures).")
    ingress_webhook_port: int = Field(default=8001, ge=1, le=65535)
    webhook_path: str = Field(default="/callback", pattern=r"^/[A-Za-z0-9/_-]*$")
    webhook_max_body_bytes: int = Field(default=1_048_576, ge=1024, le=16 * 1_048_576)
    publish_timeout_seconds: float = Field(
        default=1.5, gt=0, le=1.9, description="Confirm wait; LINE gives the whole request 2 s."
    )
