from __future__ import annotations

from cityline_common.settings import CommonSettings, CryptoSettings
from pydantic import Field


class Settings(CommonSettings, CryptoSettings):
    segment_service_port: int = Field(default=8002, ge=1, le=65535)
