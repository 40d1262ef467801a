from __future__ import annotations

from datetime import time

from cityline_common.settings import CommonSettings, CryptoSettings, InternalAuthSettings, LineSettings
from pydantic import Field


class Settings(CommonSettings, CryptoSettings, InternalAuthSettings, LineSettings):
    """dispatcher: deliveries (配信), their approval, schedules and the rate-limited send."""

    segment_service_url: str = Field(default="http://127.0.0.1:8002",
                                     description="segment-service (recipient counts, frozen recipient lists).")
    city_timezone: str = Field(default="Asia/Tokyo", description="IANA time zone of schedules and sending hours.")
    # LINE's multicast limit is per channel (200 requests/s), not per process: one sender process is
    # active at a time (the send-jobs queue has a single active consumer), and it keeps under this.
    multicast_rate: float = Field(default=190.0, gt=0, le=200,
                                  description="Multicast requests per second the active sender keeps under.")
    send_concurrency: int = Field(default=24, ge=1, le=128, description="Send jobs in flight in the sender.")
    # On a node shared with the webhook and the console, the sender yields the CPU to them first (a
    # Kubernetes CPU limit does the same between pods; this covers processes sharing one host).
    sender_nice: int = Field(default=10, ge=0, le=19, description="Scheduling niceness of dispatcher-sender.")
    sending_hours_start: time = Field(default=time(8, 0), description="配信可能時間帯: first minute (Japan time).")
    sending_hours_end: time = Field(default=time(20, 0), description="配信可能時間帯: end, exclusive (Japan time).")
    always_delivered_categories: str = Field(
        default="bousai", description="Comma-separated category keys sent at any hour (防災).")
    second_confirmation_threshold: int = Field(
        default=10_000, ge=1, description="Above this many recipients a second person confirms a send.")
    public_base_url: str = Field(default="http://127.0.0.1:8004",
                                 description="Where LINE fetches delivered images (https in a city).")
    scheduler_interval_seconds: float = Field(default=5.0, gt=0, le=300,
                                              description="How often the scheduler looks for due deliveries.")
