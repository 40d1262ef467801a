from __future__ import annotations

from cityline_common.settings import CommonSettings
from pydantic import Field


class Settings(CommonSettings):
    admin_ui_port: int = Field(default=8000, ge=1, le=65535)
    ingress_webhook_url: str = Field(default="http://127.0.0.1:8001")
    segment_service_url: str = Field(default="http://127.0.0.1:8002")
    richmenu_service_url: str = Field(default="http://127.0.0.1:8003")
    dispatcher_url: str = Field(default="http://127.0.0.1:8004")
    segment_consumer_url: str = Field(default="http://127.0.0.1:8012")
    outbox_relay_url: str = Field(default="http://127.0.0.1:8010")
    internal_api_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
