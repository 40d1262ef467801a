from __future__ import annotations

from cityline_common.settings import CommonSettings, CryptoSettings, InternalAuthSettings, LineSettings
from pydantic import Field


class Settings(CommonSettings, CryptoSettings, InternalAuthSettings, LineSettings):
    """richmenu-service: menus, 表示ルール, 災害時モード and linking residents on LINE."""

    segment_service_url: str = Field(default="http://127.0.0.1:8002",
                                     description="segment-service (segment memberships and members).")
    worker_interval_seconds: float = Field(default=0.25, gt=0, le=60,
                                           description="How often richmenu-worker looks for work (changes, periods).")
    reconcile_interval_seconds: float = Field(default=3600, gt=0,
                                              description="How often richmenu-worker repairs drift on LINE.")
    richmenu_line_concurrency: int = Field(default=8, ge=1, le=64,
                                           description="Bulk link / unlink requests in flight in a mass change.")
