from __future__ import annotations

from cityline_common.settings import CommonSettings
from pydantic import Field


class Settings(CommonSettings):
    richmenu_service_port: int = Field(default=8003, ge=1, le=65535)
