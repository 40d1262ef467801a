from __future__ import annotations

from cityline_common.settings import CommonSettings
from pydantic import Field


class Settings(CommonSettings):
    segment_service_url: str = Field(default="http://127.0.0.1:8002")
    internal_api_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
