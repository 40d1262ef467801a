from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from cityline_common.settings import CommonSettings, CryptoSettings, InternalAuthSettings, LineSettings
from pydantic import Field, ValidationInfo, field_validator

from segment_service.domain.friends import CITY_TIMEZONE, city_timezone


class Settings(CommonSettings, CryptoSettings, InternalAuthSettings, LineSettings):
    """segment-service: keys for the personal data it stores, for its internal API's tokens, and the
    LINE channel it greets residents on, runs the 受信設定 chat on and imports followers from."""

    # The city's time zone: follows and blocks are counted per calendar day there (ダッシュボード).
    city_timezone: str = Field(default=CITY_TIMEZONE, description="IANA time zone of the city's calendar days.")

    # The residents' LIFF page (受信設定 on a web page inside LINE; docs/architecture.md, "LIFF page").
    # Unset channel id: the page and its API answer 404 (the chat flow still works).
    line_login_channel_id: str = Field(
        default="", description="LINE Login channel id: the client_id ID tokens must be issued to (the LIFF app's).")
    liff_id: str = Field(default="", description="LIFF app id the page initialises LIFF with (LINE Developers).")
    line_login_api_base_url: str = Field(
        default="https://api.line.me",
        description="Where LINE Login's verify and profile endpoints are (api.line.me, or the emulator's URL).")
    liff_mock: bool = Field(
        default=False,
        description="Local demo and tests only: the page runs LIFF with @line/liff-mock (refused with LINE's URL).")

    @field_validator("line_login_channel_id")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        if value and not (value.isascii() and value.isdigit()):
            raise ValueError("must be the LINE Login channel id (digits)")
        return value

    @field_validator("liff_id")
    @classmethod
    def _liff_id(cls, value: str) -> str:
        if value and not re.fullmatch(r"[0-9]{1,20}-[A-Za-z0-9]{1,32}", value):
            raise ValueError("must be a LIFF id such as 1234567890-AbCdEfGh")
        return value

    @field_validator("line_login_api_base_url")
    @classmethod
    def _login_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/")

    @field_validator("liff_mock")
    @classmethod
    def _mock_only_with_the_emulator(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("line_login_api_base_url", "https://api.line.me").startswith("https://api.line.me"):
            raise ValueError("the LIFF mock is for the LINE emulator only, not with api.line.me")
        return value

    @field_validator("city_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        city_timezone(value)  # ValueError names the zone
        return value

    # The channel's 2,000 requests/s are shared with every sender: one consumer replies far below it.
    line_answer_max_rate: float = Field(default=50.0, gt=0, le=2000,
                                        description="Replies and pushes per second from one process.")

    # 友だち分析 reads every friend's row; staff open it now and then, and counts a minute old serve.
    choice_tally_max_age_seconds: float = Field(default=60.0, ge=0, le=3600,
                                                description="How old 友だち分析's counts may be (0: count each time).")

    def timezone(self) -> ZoneInfo:
        return city_timezone(self.city_timezone)
