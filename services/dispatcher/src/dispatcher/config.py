from __future__ import annotations

from cityline_common.settings import CommonSettings
from pydantic import Field


class Settings(CommonSettings):
    dispatcher_port: int = Field(default=8004, ge=1, le=65535)
