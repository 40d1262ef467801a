from __future__ import annotations

from cityline_common.settings import CommonSettings


class Settings(CommonSettings):
    """richmenu-service's own settings join here with its feature issue."""
